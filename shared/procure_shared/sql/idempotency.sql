-- name: wait_briefly
-- A concurrent request holding the same key blocks our insert; give up quickly (-> 409).
SET LOCAL lock_timeout = '100ms'

-- name: claim
INSERT INTO idempotency_keys (owner, key, method, path, fingerprint, status, body)
VALUES ($1, $2, $3, $4, $5, 0, '')
ON CONFLICT (owner, key) DO NOTHING
RETURNING true

-- name: wait_normally
SET LOCAL lock_timeout = 0

-- name: saved
SELECT method, path, fingerprint, status, body, headers::text AS headers, created_at
FROM idempotency_keys
WHERE owner = $1 AND key = $2

-- name: take_over_expired
DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND created_at < $3

-- name: save
UPDATE idempotency_keys SET status = $3, body = $4, headers = $5::text::jsonb
WHERE owner = $1 AND key = $2
