-- The subscriptions table: the document beside its filter columns, and the sealed signing
-- secrets (procure_notifications.storage.subscriptions).

-- name: visible
SELECT doc::text FROM subscriptions
WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR buyer_id = $2)

-- name: visible_for_update
SELECT doc::text FROM subscriptions
WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR buyer_id = $2)
FOR UPDATE

-- name: delete
UPDATE subscriptions
SET deleted_at = $2, secret = NULL, previous_secret = NULL, previous_secret_until = NULL
WHERE id = $1

-- name: is_deleted
SELECT deleted_at IS NOT NULL FROM subscriptions WHERE id = $1

-- name: lock_owner
SELECT pg_advisory_xact_lock(hashtextextended('subscriptions:' || $1 || ':' || $2, 0))

-- name: count_owned
SELECT count(*) FROM subscriptions
WHERE deleted_at IS NULL AND owner_sub = $1 AND buyer_id IS NOT DISTINCT FROM $2

-- name: set_secrets
UPDATE subscriptions SET secret = $2, previous_secret = $3, previous_secret_until = $4
WHERE id = $1

-- name: secrets
SELECT secret, previous_secret, previous_secret_until FROM subscriptions WHERE id = $1

-- name: sealed_for_update
SELECT id, secret, previous_secret FROM subscriptions
WHERE secret IS NOT NULL OR previous_secret IS NOT NULL
ORDER BY id FOR UPDATE

-- name: reseal
UPDATE subscriptions SET secret = $2, previous_secret = $3 WHERE id = $1

-- name: candidates
SELECT coalesce(json_agg(doc), '[]')::text FROM subscriptions
WHERE deleted_at IS NULL AND (admin OR $1::text IS NULL OR buyer_id = $1)

-- name: next_failure_sequence
UPDATE subscriptions SET failures_published = failures_published + 1 WHERE id = $1
RETURNING failures_published
