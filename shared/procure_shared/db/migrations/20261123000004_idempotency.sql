-- migrate:up
-- Creating POSTs take an Idempotency-Key. The key is claimed and its response saved in the
-- request's own transaction, so a key is never left claimed by a request that did not commit.
CREATE TABLE idempotency_keys (
    owner         text        NOT NULL,      -- the token's subject: keys are per user
    key           text        NOT NULL,
    method        text        NOT NULL,
    path          text        NOT NULL,
    fingerprint   text        NOT NULL,      -- sha256 of the request body
    status        integer     NOT NULL,
    body          bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- migrate:down
DROP TABLE idempotency_keys;
