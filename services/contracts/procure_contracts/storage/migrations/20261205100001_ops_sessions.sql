-- migrate:up
-- The ops dashboard's sign-in (decision 22). A browser's session lives here, not in its
-- cookie: the cookie holds a random id, this table its SHA-256 (a leaked table opens nothing),
-- and signing out sets ended_at, after which the cookie opens nothing, at once.
CREATE TABLE ops_sessions (
    id          text        PRIMARY KEY,  -- hex SHA-256 of the cookie's value
    subject     text        NOT NULL,
    roles       text[]      NOT NULL,
    buyer_id    text,
    issuer      text        NOT NULL,     -- who signed the user in (an issuer, or `pasted`)
    started_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX ops_sessions_expires ON ops_sessions (expires_at);

-- A sign-in under way at the issuer: its state (hashed), the nonce the ID token must carry, the
-- PKCE verifier, and where to go afterwards. Used once (deleted by the callback), good for
-- 10 minutes.
CREATE TABLE ops_sign_ins (
    state       text        PRIMARY KEY,  -- hex SHA-256 of the state
    nonce       text        NOT NULL,
    verifier    text        NOT NULL,
    next        text        NOT NULL,
    started_at  timestamptz NOT NULL
);

-- migrate:down
DROP TABLE ops_sign_ins;
DROP TABLE ops_sessions;
