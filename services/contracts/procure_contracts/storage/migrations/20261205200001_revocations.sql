-- migrate:up
-- Bearer tokens an admin revoked (decision 23): one token by its id (jti), or every token of a
-- subject issued before a time. Each is published as identity's event, which every service
-- follows; this table is the record the admin API lists.
CREATE TABLE token_revocations (
    id             bigserial   PRIMARY KEY,
    jti            text,
    subject        text,
    issued_before  timestamptz,
    reason         text,
    revoked_by     text        NOT NULL,
    revoked_at     timestamptz NOT NULL,
    CHECK ((jti IS NULL) <> (subject IS NULL)),
    CHECK ((subject IS NULL) = (issued_before IS NULL))
);
CREATE UNIQUE INDEX token_revocations_jti ON token_revocations (jti) WHERE jti IS NOT NULL;
CREATE INDEX token_revocations_subject ON token_revocations (subject, id)
    WHERE subject IS NOT NULL;
CREATE INDEX token_revocations_revoked_at ON token_revocations (revoked_at);

-- migrate:down
DROP TABLE token_revocations;
