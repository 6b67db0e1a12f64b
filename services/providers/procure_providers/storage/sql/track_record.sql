-- name: upsert_award
INSERT INTO track_awards (award_id, provider_id, tender_id, lot_id, category, amount, currency,
                          status, awarded_at)
VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, 'made', $8)
ON CONFLICT (award_id, provider_id) DO UPDATE
SET tender_id = EXCLUDED.tender_id, lot_id = EXCLUDED.lot_id, category = EXCLUDED.category,
    amount = EXCLUDED.amount, currency = EXCLUDED.currency, status = 'made',
    awarded_at = EXCLUDED.awarded_at

-- name: cancel_award
-- A cancellation seen before its award (another consumer got it first) leaves a cancelled row.
INSERT INTO track_awards (award_id, provider_id, tender_id, lot_id, category, status, awarded_at)
VALUES ($1, $2, $3, $4, 'other', 'cancelled', '-infinity')
ON CONFLICT (award_id, provider_id) DO UPDATE SET status = 'cancelled'

-- name: upsert_contract
INSERT INTO track_contracts (contract_id, provider_id, title, status, amount, currency,
                             starts_on, ends_on)
SELECT $1, p, $3, $4, $5::numeric, $6, $7, $8 FROM unnest($2::text[]) AS p
ON CONFLICT (contract_id, provider_id) DO UPDATE
SET title = EXCLUDED.title, status = EXCLUDED.status, amount = EXCLUDED.amount,
    currency = EXCLUDED.currency, starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on

-- name: close_contract
INSERT INTO track_contracts (contract_id, provider_id, title, status)
SELECT $1, p, '', $3 FROM unnest($2::text[]) AS p
ON CONFLICT (contract_id, provider_id) DO UPDATE SET status = EXCLUDED.status

-- name: upsert_milestone
INSERT INTO track_milestones (milestone_id, provider_id, contract_id, title, status, due_on,
                              met_on)
SELECT $1, p, $3, $4, $5, $6, $7 FROM unnest($2::text[]) AS p
ON CONFLICT (milestone_id, provider_id) DO UPDATE
SET contract_id = EXCLUDED.contract_id, title = EXCLUDED.title, status = EXCLUDED.status,
    due_on = EXCLUDED.due_on, met_on = EXCLUDED.met_on

-- name: upsert_rating
INSERT INTO track_ratings (kpi_id, provider_id, contract_id, name, rating, period_end, rated_at)
SELECT $1, p, $3, $4, $5, $6, $7 FROM unnest($2::text[]) AS p
ON CONFLICT (kpi_id, provider_id) DO UPDATE
SET contract_id = EXCLUDED.contract_id, name = EXCLUDED.name, rating = EXCLUDED.rating,
    period_end = EXCLUDED.period_end, rated_at = EXCLUDED.rated_at

-- name: awards
SELECT count(*) FILTER (WHERE status = 'made') AS won,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM track_awards WHERE provider_id = $1

-- name: contracts
SELECT * FROM track_contracts WHERE provider_id = $1 ORDER BY starts_on NULLS LAST, contract_id

-- name: milestones
SELECT count(*) FILTER (WHERE status IN ('met', 'partially_met') AND met_on <= due_on) AS on_time,
       count(*) FILTER (WHERE status IN ('met', 'partially_met') AND met_on > due_on) AS late,
       count(*) FILTER (WHERE status = 'not_met') AS not_met,
       count(*) FILTER (WHERE status = 'waived') AS waived
FROM track_milestones WHERE provider_id = $1

-- name: ratings
SELECT * FROM track_ratings WHERE provider_id = $1 ORDER BY rated_at DESC, kpi_id
