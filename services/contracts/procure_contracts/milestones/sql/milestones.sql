-- The milestones feature's statements (procure_contracts.milestones.store). Reading, inserting
-- and saving one document, and the list's keyset page, are built by procure_shared.db.documents.

-- name: milestones_of
-- A contract's milestones by due date as one JSON array; no row if $2 (a buyer, NULL: every
-- buyer's) may not see the contract.
SELECT (SELECT coalesce(json_agg(m.doc ORDER BY m.due_on, m.created_at, m.id), '[]')
        FROM milestones m WHERE m.contract_id = c.id)::text
FROM contracts c WHERE c.id = $1 AND ($2::text IS NULL OR c.buyer_id = $2)

-- name: claim_owed_notices
-- Scheduled milestones owed a notice (overdue: due before $1; due soon: due by $2), at most $3
-- of each, locked (others running at once skip them), with their contract's providers.
WITH late AS (SELECT contract_id, doc FROM milestones WHERE owed_overdue < $1
              ORDER BY owed_overdue LIMIT $3 FOR UPDATE SKIP LOCKED),
     soon AS (SELECT contract_id, doc FROM milestones
              WHERE owed_due_soon >= $1 AND owed_due_soon <= $2
              ORDER BY owed_due_soon LIMIT $3 FOR UPDATE SKIP LOCKED),
     owed AS (SELECT * FROM late UNION ALL SELECT * FROM soon)
SELECT owed.doc::text AS doc, c.provider_ids
FROM owed JOIN contracts c ON c.id = owed.contract_id

-- name: due_counts
-- The counts `procure status` and the dashboard show: scheduled milestones overdue (due
-- before $2), and due from $2 to $3 (whatever became of their contract, as the monitor reports
-- them); $1 a buyer, NULL: every buyer's.
SELECT count(*) FILTER (WHERE m.due_on < $2) AS overdue,
       count(*) FILTER (WHERE m.due_on >= $2) AS due_soon
FROM milestones m
WHERE m.status = 'scheduled' AND ($1::text IS NULL OR m.buyer_id = $1) AND m.due_on <= $3

-- name: by_due_date
-- A contract's milestones, the soonest due first (its visibility checked by the caller).
SELECT doc::text AS doc FROM milestones WHERE contract_id = $1 ORDER BY due_on, id
