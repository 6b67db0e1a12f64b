-- migrate:up
-- The inbox: which events each consumer has applied (duplicates are skipped), and the last
-- applied sequence per aggregate for consumers that apply an aggregate's events in order.
CREATE TABLE inbox (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    event_type    text        NOT NULL,
    aggregate_id  text        NOT NULL,
    sequence      bigint      NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE inbox_positions (
    consumer       text   NOT NULL,
    aggregate_id   text   NOT NULL,
    last_sequence  bigint NOT NULL,
    PRIMARY KEY (consumer, aggregate_id)
);

-- Messages a consumer gave up on: terminated (undecodable) or past max_deliver.
CREATE TABLE dead_letters (
    id            bigserial   PRIMARY KEY,
    consumer      text        NOT NULL,
    stream        text        NOT NULL,
    stream_seq    bigint      NOT NULL,
    reason        text        NOT NULL,      -- 'max_deliveries' or 'terminated'
    deliveries    integer,
    event_id      text,
    event_type    text,
    payload       bytea,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, stream, stream_seq, reason)
);

-- migrate:down
DROP TABLE dead_letters;
DROP TABLE inbox_positions;
DROP TABLE inbox;
