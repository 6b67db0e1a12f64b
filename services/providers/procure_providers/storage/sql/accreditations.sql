-- name: insert
INSERT INTO accreditations (id, provider_id, category, granted_by, valid_from, valid_to,
                            evidence_ref, status, revoked_reason, version, created_at, updated_at,
                            buyer_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)

-- name: update
UPDATE accreditations
SET granted_by = $4, valid_from = $5, valid_to = $6, evidence_ref = $7, status = $8,
    revoked_reason = $9, version = $10, updated_at = $12
WHERE id = $1 AND provider_id = $2 AND category = $3 AND version < $10
  AND created_at = $11

-- name: get
SELECT * FROM accreditations WHERE id = $1

-- name: get_for_update
SELECT * FROM accreditations WHERE id = $1 FOR UPDATE

-- name: of_provider
SELECT * FROM accreditations
WHERE provider_id = $1 AND ($2::text IS NULL OR category = $2)
ORDER BY valid_from, id

-- name: claim_due
-- Active accreditations with a notice due on day $1 ($2 days of notice) not yet sent for
-- their current end date. SKIP LOCKED: instances running at once take different rows.
SELECT a.*
FROM accreditations a
WHERE a.status = 'active' AND a.valid_to IS NOT NULL
  AND a.valid_to - $2::integer <= $1::date
  AND (NOT EXISTS (SELECT 1 FROM accreditation_notices n
                   WHERE n.accreditation_id = a.id AND n.valid_to = a.valid_to
                     AND n.kind = 'expiring')
       OR (a.valid_to < $1::date
           AND NOT EXISTS (SELECT 1 FROM accreditation_notices n
                           WHERE n.accreditation_id = a.id AND n.valid_to = a.valid_to
                             AND n.kind = 'expired')))
ORDER BY a.valid_to, a.id
LIMIT $3
FOR UPDATE OF a SKIP LOCKED

-- name: sent
-- Read after the rows are locked, in a statement of its own: the claim's snapshot may predate
-- the commit of another instance that sent a notice just before this one took the lock.
SELECT accreditation_id, kind FROM accreditation_notices
WHERE accreditation_id = ANY ($1::uuid[]) AND (accreditation_id, valid_to) IN (
    SELECT id, valid_to FROM accreditations WHERE id = ANY ($1::uuid[]))

-- name: mark_sent
INSERT INTO accreditation_notices (accreditation_id, kind, valid_to, sent_at)
VALUES ($1, $2, $3, $4)
