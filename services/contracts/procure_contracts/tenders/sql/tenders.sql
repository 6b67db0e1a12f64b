-- The tenders feature's statements over its tables: tenders, lots and awards
-- (procure_contracts.tenders.store). Reading, inserting and saving one document, and each list's
-- keyset page, are built by procure_shared.db.documents.

-- name: lots_of
SELECT doc::text AS doc FROM lots WHERE tender_id = $1 ORDER BY created_at, id

-- name: lots_of_locked
SELECT doc::text AS doc FROM lots WHERE tender_id = $1 ORDER BY created_at, id FOR UPDATE

-- name: live_awards
SELECT doc::text AS doc FROM awards WHERE lot_id = $1 AND NOT cancelled ORDER BY created_at, id

-- name: lot_award_ids
SELECT id::text FROM awards WHERE lot_id = $1 AND NOT cancelled ORDER BY created_at, id

-- name: contract_holding
-- A live (pending or active) contract resting on the award, if any.
SELECT c.id::text FROM contract_awards l JOIN contracts c ON c.id = l.contract_id
WHERE l.award_id = $1 AND c.status IN ('pending', 'active') LIMIT 1
