-- name: claim
-- One round trip: a transaction-level advisory lock on the key (held until this transaction
-- ends) tells a concurrent request with the same key to back off at once (mine = false ->
-- 409); holding it, the insert either claims the key or finds the saved row of an earlier
-- request (claimed = false -> replay, or take over an expired row).
WITH turn AS (SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS mine),
claimed AS (
    INSERT INTO idempotency_keys (owner, key, method, path, fingerprint, status, body)
    SELECT $1, $2, $3, $4, $5, 0, '' FROM turn WHERE mine
    ON CONFLICT (owner, key) DO NOTHING
    RETURNING true AS ok
)
SELECT (SELECT mine FROM turn) AS mine, EXISTS (SELECT 1 FROM claimed) AS claimed

-- name: claim_again
-- After taking over an expired row (the advisory lock is still held).
INSERT INTO idempotency_keys (owner, key, method, path, fingerprint, status, body)
VALUES ($1, $2, $3, $4, $5, 0, '')
ON CONFLICT (owner, key) DO NOTHING
RETURNING true

-- name: saved
SELECT method, path, fingerprint, status, body, headers::text AS headers, created_at
FROM idempotency_keys
WHERE owner = $1 AND key = $2

-- name: take_over_expired
DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND created_at < $3

-- name: save
UPDATE idempotency_keys SET status = $3, body = $4, headers = $5::text::jsonb
WHERE owner = $1 AND key = $2
