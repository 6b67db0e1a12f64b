-- migrate:up
-- The sequence of a subscription's ``notifications.delivery.failed`` events (their subject is
-- the subscription): counted up in the transaction that dead-letters a delivery.
ALTER TABLE subscriptions ADD COLUMN failures_published bigint NOT NULL DEFAULT 0;
-- The attempts since the delivery was made or last replayed: its backoff counts these (the
-- ``attempts`` column numbers every attempt in the log, across replays).
ALTER TABLE deliveries ADD COLUMN tries integer NOT NULL DEFAULT 0;

-- migrate:down
ALTER TABLE deliveries DROP COLUMN tries;
ALTER TABLE subscriptions DROP COLUMN failures_published;
