-- The ops dashboard's sessions and sign-ins under way (decision 22).

-- name: start_session
-- A new session; sessions expired more than a day ago go (one small range of an index).
WITH gone AS (DELETE FROM ops_sessions WHERE expires_at < $6::timestamptz - interval '1 day')
INSERT INTO ops_sessions (id, subject, roles, buyer_id, issuer, started_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: find_session
SELECT subject, roles, buyer_id, issuer, expires_at FROM ops_sessions
WHERE id = $1 AND ended_at IS NULL AND expires_at > $2;

-- name: end_session
UPDATE ops_sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL
RETURNING subject, roles, buyer_id, issuer, expires_at;

-- name: start_sign_in
-- A sign-in under way; those older than 10 minutes go.
WITH gone AS (DELETE FROM ops_sign_ins WHERE started_at < $5::timestamptz - interval '10 minutes')
INSERT INTO ops_sign_ins (state, nonce, verifier, next, started_at) VALUES ($1, $2, $3, $4, $5);

-- name: take_sign_in
-- The sign-in the state names, once, if it started within 10 minutes.
DELETE FROM ops_sign_ins WHERE state = $1
RETURNING nonce, verifier, next, started_at > $2::timestamptz - interval '10 minutes' AS fresh;
