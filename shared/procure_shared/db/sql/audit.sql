-- name: record
INSERT INTO audit_log (occurred_at, actor, actor_roles, buyer_id, action,
                       resource_type, resource_id, before, after, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9::text::jsonb, $10)

-- name: history
SELECT id, occurred_at, actor, actor_roles, buyer_id, action, resource_type,
       resource_id, before::text AS before, after::text AS after, correlation_id
FROM audit_log
WHERE resource_type = $1 AND resource_id = $2
ORDER BY id

-- name: state_at
-- The resource as the last change at or before $3 left it (NULL: it did not exist yet).
SELECT after::text FROM audit_log
WHERE resource_type = $1 AND resource_id = $2 AND occurred_at <= $3
ORDER BY id DESC LIMIT 1
