-- name: add
-- txid defaults to the transaction's id (the change feed's order); buyer_id scopes the feed.
INSERT INTO outbox (id, subject, aggregate_id, sequence, payload, headers, buyer_id)
VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7)

-- name: claim_batch
-- Claim, never track a high-water mark: a transaction that took a lower position but committed
-- later is simply found by a later claim.
SELECT position, id, subject, payload, headers::text AS headers
FROM outbox
WHERE published_at IS NULL
ORDER BY position
LIMIT $1
FOR UPDATE SKIP LOCKED

-- name: mark_published
UPDATE outbox AS o
SET published_at = now(), attempts = o.attempts + 1, acked_duplicate = d.duplicate
FROM unnest($1::bigint[], $2::boolean[]) AS d(position, duplicate)
WHERE o.position = d.position

-- name: record_failure
UPDATE outbox SET attempts = attempts + 1, last_error = $2
WHERE position = ANY($1::bigint[])

-- name: backlog
SELECT count(*) FROM outbox WHERE published_at IS NULL

-- name: try_leadership
SELECT pg_try_advisory_lock($1)
