-- Each row holds the buyer of the event that last wrote it ($n buyer_id: the envelope's
-- buyerid); an event without one keeps the buyer the row has.

-- name: upsert_award
INSERT INTO track_awards (award_id, provider_id, tender_id, lot_id, category, amount, currency,
                          status, awarded_at, buyer_id)
VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, 'made', $8, $9)
ON CONFLICT (award_id, provider_id) DO UPDATE
SET tender_id = EXCLUDED.tender_id, lot_id = EXCLUDED.lot_id, category = EXCLUDED.category,
    amount = EXCLUDED.amount, currency = EXCLUDED.currency, status = 'made',
    awarded_at = EXCLUDED.awarded_at,
    buyer_id = coalesce(EXCLUDED.buyer_id, track_awards.buyer_id)

-- name: cancel_award
-- A cancellation seen before its award (another consumer got it first) leaves a cancelled row.
INSERT INTO track_awards (award_id, provider_id, tender_id, lot_id, category, status, awarded_at,
                          buyer_id)
VALUES ($1, $2, $3, $4, 'other', 'cancelled', '-infinity', $5)
ON CONFLICT (award_id, provider_id) DO UPDATE
SET status = 'cancelled', buyer_id = coalesce(EXCLUDED.buyer_id, track_awards.buyer_id)

-- name: upsert_contract
INSERT INTO track_contracts (contract_id, provider_id, title, status, amount, currency,
                             starts_on, ends_on, buyer_id)
SELECT $1, p, $3, $4, $5::numeric, $6, $7, $8, $9 FROM unnest($2::text[]) AS p
ON CONFLICT (contract_id, provider_id) DO UPDATE
SET title = EXCLUDED.title, status = EXCLUDED.status, amount = EXCLUDED.amount,
    currency = EXCLUDED.currency, starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on,
    buyer_id = coalesce(EXCLUDED.buyer_id, track_contracts.buyer_id)

-- name: close_contract
INSERT INTO track_contracts (contract_id, provider_id, title, status, buyer_id)
SELECT $1, p, '', $3, $4 FROM unnest($2::text[]) AS p
ON CONFLICT (contract_id, provider_id) DO UPDATE
SET status = EXCLUDED.status, buyer_id = coalesce(EXCLUDED.buyer_id, track_contracts.buyer_id)

-- name: upsert_milestone
INSERT INTO track_milestones (milestone_id, provider_id, contract_id, title, status, due_on,
                              met_on, buyer_id)
SELECT $1, p, $3, $4, $5, $6, $7, $8 FROM unnest($2::text[]) AS p
ON CONFLICT (milestone_id, provider_id) DO UPDATE
SET contract_id = EXCLUDED.contract_id, title = EXCLUDED.title, status = EXCLUDED.status,
    due_on = EXCLUDED.due_on, met_on = EXCLUDED.met_on,
    buyer_id = coalesce(EXCLUDED.buyer_id, track_milestones.buyer_id)

-- name: upsert_rating
INSERT INTO track_ratings (kpi_id, provider_id, contract_id, name, rating, period_end, rated_at,
                           buyer_id)
SELECT $1, p, $3, $4, $5, $6, $7, $8 FROM unnest($2::text[]) AS p
ON CONFLICT (kpi_id, provider_id) DO UPDATE
SET contract_id = EXCLUDED.contract_id, name = EXCLUDED.name, rating = EXCLUDED.rating,
    period_end = EXCLUDED.period_end, rated_at = EXCLUDED.rated_at,
    buyer_id = coalesce(EXCLUDED.buyer_id, track_ratings.buyer_id)

-- name: awards
SELECT buyer_id,
       count(*) FILTER (WHERE status = 'made') AS won,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM track_awards WHERE provider_id = $1
GROUP BY buyer_id

-- name: contracts
SELECT * FROM track_contracts WHERE provider_id = $1 ORDER BY starts_on NULLS LAST, contract_id

-- name: milestones
SELECT buyer_id,
       count(*) FILTER (WHERE status IN ('met', 'partially_met') AND met_on <= due_on) AS on_time,
       count(*) FILTER (WHERE status IN ('met', 'partially_met') AND met_on > due_on) AS late,
       count(*) FILTER (WHERE status = 'not_met') AS not_met,
       count(*) FILTER (WHERE status = 'waived') AS waived
FROM track_milestones WHERE provider_id = $1
GROUP BY buyer_id

-- name: ratings
SELECT * FROM track_ratings WHERE provider_id = $1 ORDER BY rated_at DESC, kpi_id
