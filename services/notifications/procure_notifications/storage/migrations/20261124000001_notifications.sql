-- migrate:up
-- Subscriptions: the document the API returns, beside the columns the fan-out and the lists
-- filter on. The webhook signing secret lives only in its column (never in the document, the
-- audit trail or an event); during a rotation's grace period the previous one signs too.
CREATE TABLE subscriptions (
    id                     uuid        PRIMARY KEY,
    owner_sub              text        NOT NULL,
    buyer_id               text,
    admin                  boolean     NOT NULL,
    status                 text        NOT NULL,
    channel                text        NOT NULL,   -- 'webhook' or 'email'
    version                integer     NOT NULL,
    created_at             timestamptz NOT NULL,
    doc                    jsonb       NOT NULL,
    secret                 text,
    previous_secret        text,
    previous_secret_until  timestamptz
);
CREATE INDEX subscriptions_owner ON subscriptions (buyer_id, owner_sub, created_at DESC, id DESC);

-- One delivery per event and subscription: its id is the webhook-id and the root of the
-- email Message-ID, the same however often the event arrives. ``body`` is the event's
-- envelope as published (what is signed and sent).
CREATE TABLE deliveries (
    id                uuid        PRIMARY KEY,
    subscription_id   uuid        NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    buyer_id          text,
    owner_sub         text        NOT NULL,
    event_id          uuid        NOT NULL,
    event_type        text        NOT NULL,
    aggregate_id      text        NOT NULL,
    sequence          bigint      NOT NULL,
    event_time        timestamptz NOT NULL,
    body              bytea       NOT NULL,
    channel           text        NOT NULL,
    status            text        NOT NULL,   -- 'pending', 'delivered', 'dead'
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL,
    leased_until      timestamptz,
    first_attempt_at  timestamptz,
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- A pending delivery holds back the later ones of its subscription and aggregate.
CREATE INDEX deliveries_order ON deliveries (subscription_id, aggregate_id, sequence)
    WHERE status = 'pending';
CREATE INDEX deliveries_page ON deliveries (buyer_id, created_at DESC, id DESC);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, created_at DESC, id DESC);

-- Every attempt: what was sent where, what came back, how long it took.
CREATE TABLE delivery_attempts (
    delivery_id   uuid             NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt       integer          NOT NULL,
    started_at    timestamptz      NOT NULL,
    outcome       text             NOT NULL,   -- 'delivered', 'failed', 'gone', 'refused'
    status_code   integer,
    latency_ms    double precision NOT NULL,
    error         text,
    address       text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Wakes the delivery workers when deliveries are written or a subscription comes back
-- (delivered only on commit; a replay notifies by itself). Retries are found by the poll.
CREATE FUNCTION deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('deliveries', '');
    RETURN NULL;
END $$;
CREATE TRIGGER deliveries_written AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_notify();
CREATE TRIGGER subscriptions_changed AFTER UPDATE OF status ON subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_notify();

-- migrate:down
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE subscriptions;
DROP FUNCTION deliveries_notify();
