-- name: facts
-- What eligibility weighs for providers $1 (uuid[]) in category $2 (null: every category): one
-- row per registered provider. The statement is the function eligibility_facts (migration
-- 20261123100003), for its generic plan.
SELECT id, legal_name, status, exclusions, accreditations, rating
FROM eligibility_facts($1::uuid[], $2::text)

-- name: provider_ids
-- The ids of up to $1 providers, most recently changed first (to fill the responder's index).
SELECT id::text FROM providers ORDER BY updated_at DESC LIMIT $1
