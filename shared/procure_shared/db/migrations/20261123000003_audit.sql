-- migrate:up
-- One row per change, written in the transaction of the change: who, when, what, before, after.
CREATE TABLE audit_log (
    id              bigserial   PRIMARY KEY,
    occurred_at     timestamptz NOT NULL,
    actor           text        NOT NULL,
    actor_roles     text[]      NOT NULL DEFAULT '{}',
    buyer_id        text,
    action          text        NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text        NOT NULL,
    before          jsonb,
    after           jsonb,
    correlation_id  text
);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, id);

-- migrate:down
DROP TABLE audit_log;
