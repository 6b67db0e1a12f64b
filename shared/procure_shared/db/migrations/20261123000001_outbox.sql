-- migrate:up
-- The transactional outbox: events written in the same transaction as the change that causes
-- them. Rows are marked published (not deleted) only after JetStream acknowledged them, and kept
-- for a retention period so that a window of broker loss can be replayed.
CREATE TABLE outbox (
    position      bigserial PRIMARY KEY,
    id            uuid        NOT NULL UNIQUE,   -- event id = Nats-Msg-Id
    subject       text        NOT NULL,          -- NATS subject = event type
    aggregate_id  text        NOT NULL,
    sequence      bigint      NOT NULL,
    payload       bytea       NOT NULL,          -- the encoded envelope, published as is
    headers       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    acked_duplicate boolean   NOT NULL DEFAULT false,  -- JetStream had it already: a re-publish
    last_error    text
);
CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL;

-- Wake the relay when a transaction that wrote events commits (NOTIFY is delivered on commit).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('procure_outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- migrate:down
DROP TABLE outbox;
DROP FUNCTION outbox_notify();
