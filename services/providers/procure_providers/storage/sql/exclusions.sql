-- name: insert
INSERT INTO exclusions (id, provider_id, ground, source, starts_on, ends_on, lifted_on,
                        lift_reason, version, created_at, updated_at, buyer_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)

-- name: update
UPDATE exclusions
SET lifted_on = $7, lift_reason = $8, version = $9, updated_at = $11
WHERE id = $1 AND provider_id = $2 AND ground = $3 AND source = $4 AND starts_on = $5
  AND ends_on IS NOT DISTINCT FROM $6 AND version = $9 - 1 AND created_at = $10

-- name: get
SELECT * FROM exclusions WHERE id = $1

-- name: get_for_update
SELECT * FROM exclusions WHERE id = $1 FOR UPDATE

-- name: of_provider
SELECT * FROM exclusions WHERE provider_id = $1 ORDER BY starts_on, id
