-- Token revocations (decision 23).

-- name: add_token
-- A token's revocation, once: a jti revoked already returns nothing.
INSERT INTO token_revocations (jti, reason, revoked_by, revoked_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (jti) WHERE jti IS NOT NULL DO NOTHING
RETURNING id, jti, subject, issued_before, reason, revoked_by, revoked_at,
    1::bigint AS sequence;

-- name: token
SELECT id, jti, subject, issued_before, reason, revoked_by, revoked_at, 1::bigint AS sequence
FROM token_revocations WHERE jti = $1;

-- name: add_subject
-- A subject's revocation; its sequence is how many that subject has had (its events' order).
WITH added AS (
    INSERT INTO token_revocations (subject, issued_before, reason, revoked_by, revoked_at)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING id, jti, subject, issued_before, reason, revoked_by, revoked_at
)
SELECT added.*, (
    SELECT count(*) + 1 FROM token_revocations WHERE subject = $1
) AS sequence
FROM added;

-- name: one
SELECT id, jti, subject, issued_before, reason, revoked_by, revoked_at, 0::bigint AS sequence
FROM token_revocations WHERE id = $1;

-- name: in_force
-- The revocations that may still stop a live token, newest first, before the keyset $3.
SELECT id, jti, subject, issued_before, reason, revoked_by, revoked_at, 0::bigint AS sequence
FROM token_revocations
WHERE coalesce(issued_before, revoked_at) > $1
  AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $2;

-- name: end_sessions
-- A revoked subject's ops dashboard sessions started before the time end at once.
UPDATE ops_sessions SET ended_at = $3
WHERE subject = $1 AND started_at < $2 AND ended_at IS NULL AND expires_at > $3
RETURNING id, subject, roles, buyer_id, issuer, expires_at;
