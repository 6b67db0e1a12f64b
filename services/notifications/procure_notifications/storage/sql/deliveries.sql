-- The deliveries table (one per event and subscription) and their attempts
-- (procure_notifications.storage.deliveries). A delivery's list is the one statement built in
-- code: its keyset page (procure_shared.db.documents.Page) adds the filters and the order to
-- `listed`.

-- name: insert
INSERT INTO deliveries (id, subscription_id, buyer_id, owner_sub, event_id, event_type,
                        aggregate_id, sequence, event_time, body, channel, status,
                        next_attempt_at, created_at)
SELECT d.id, d.subscription_id, d.buyer_id, d.owner_sub, d.event_id, d.event_type,
       d.aggregate_id, d.sequence, d.event_time, d.body, d.channel, 'pending', $10, $10
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
            $7::text[], $8::bigint[], $9::timestamptz[], $11::bytea[], $12::text[])
     AS d(id, subscription_id, buyer_id, owner_sub, event_id, event_type, aggregate_id,
          sequence, event_time, body, channel)
ON CONFLICT (subscription_id, event_id) DO NOTHING

-- name: listed
SELECT id::text, subscription_id::text, event_id::text, event_type, aggregate_id, sequence,
       event_time, channel, status, attempts,
       CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,
       first_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at, created_at
FROM deliveries

-- name: visible
SELECT id::text, subscription_id::text, event_id::text, event_type, aggregate_id, sequence,
       event_time, channel, status, attempts,
       CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,
       first_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at, created_at
FROM deliveries
WHERE id = $1 AND ($2::text IS NULL OR buyer_id = $2) AND ($3::text IS NULL OR owner_sub = $3)

-- name: visible_for_update
SELECT id::text, subscription_id::text, event_id::text, event_type, aggregate_id, sequence,
       event_time, channel, status, attempts,
       CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,
       first_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at, created_at
FROM deliveries
WHERE id = $1 AND ($2::text IS NULL OR buyer_id = $2) AND ($3::text IS NULL OR owner_sub = $3)
FOR UPDATE

-- name: cancel_pending_of
UPDATE deliveries
SET status = 'cancelled', leased_until = NULL, last_error = 'the subscription was deleted'
WHERE subscription_id = $1 AND status = 'pending'

-- name: attempts
SELECT attempt, started_at, outcome, status_code, latency_ms, error, address
FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt

-- name: replay
UPDATE deliveries
SET status = 'pending', next_attempt_at = $2, leased_until = NULL, first_attempt_at = NULL,
    tries = 0
WHERE id = ANY($1::uuid[])

-- name: wake_workers
SELECT pg_notify('deliveries', '')

-- A claim leases the due deliveries of active subscriptions, each the earliest pending one of
-- its subscription and aggregate (so one aggregate's deliveries go out in order); a daily
-- digest's deliveries wait for their day to be over (claim_digests). Each names its `due`
-- rows; `lease` is what both do with them: storage/deliveries.py runs a claim and the lease as
-- one statement ($1 now, $2 how many, $3 the lease in seconds).
-- name: lease
UPDATE deliveries d SET leased_until = $1 + make_interval(secs => $3),
    attempts = d.attempts + 1, tries = d.tries + 1,
    first_attempt_at = coalesce(d.first_attempt_at, $1), last_attempt_at = $1
FROM due, subscriptions s WHERE d.id = due.id AND s.id = d.subscription_id
RETURNING d.id::text, s.doc::text AS doc, s.secret, s.previous_secret,
    s.previous_secret_until, d.event_type, d.aggregate_id, d.event_time, d.body, d.attempts,
    d.tries, d.first_attempt_at,
    EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending'
            AND e.subscription_id = d.subscription_id AND e.aggregate_id = d.aggregate_id
            AND e.sequence > d.sequence) AS followed

-- name: claim
WITH due AS (
    SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND s.status = 'active' AND s.deleted_at IS NULL
      AND d.next_attempt_at <= $1
      AND (d.leased_until IS NULL OR d.leased_until <= $1)
      AND NOT coalesce(s.doc->'channel'->>'digest', 'none') = 'daily'
      AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending'
                      AND e.subscription_id = d.subscription_id
                      AND e.aggregate_id = d.aggregate_id AND e.sequence < d.sequence)
    ORDER BY d.next_attempt_at, d.sequence LIMIT $2 FOR UPDATE OF d SKIP LOCKED
)

-- name: claim_digests
WITH due AS (
    SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND s.status = 'active' AND s.deleted_at IS NULL
      AND d.next_attempt_at <= $1
      AND (d.leased_until IS NULL OR d.leased_until <= $1)
      AND coalesce(s.doc->'channel'->>'digest', 'none') = 'daily'
      AND d.event_time < date_trunc('day', ($1 - make_interval(hours => $4)) AT TIME ZONE 'UTC')
                         AT TIME ZONE 'UTC'
    ORDER BY d.subscription_id, d.event_time, d.sequence LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)

-- name: count_pending
SELECT count(*) FROM deliveries WHERE status = 'pending'

-- The attempt's outcome, and where the delivery now stands, in one statement; nothing
-- changes when a later attempt has taken the delivery over (the attempt is logged).
-- name: record_attempt
WITH logged AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, started_at, outcome, status_code,
                                   latency_ms, error, address)
    VALUES ($1, $7, $6, $8, $4, $9, $5, $10)
    ON CONFLICT (delivery_id, attempt) DO NOTHING
)
UPDATE deliveries SET status = $2, leased_until = NULL,
    next_attempt_at = coalesce($3, next_attempt_at), last_status_code = $4, last_error = $5,
    delivered_at = CASE WHEN $2 = 'delivered' THEN $6::timestamptz END
WHERE id = $1 AND attempts = $7 AND status = 'pending'
