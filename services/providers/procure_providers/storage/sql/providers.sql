-- name: insert
INSERT INTO providers (id, legal_name, trading_name, kind, sme, vcse, status, addresses,
                       regions, contacts, notes, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)

-- name: update
-- Only from the version the caller read: 0 rows means someone else changed it first.
UPDATE providers
SET legal_name = $2, trading_name = $3, kind = $4, sme = $5, vcse = $6, status = $7,
    addresses = $8, regions = $9, contacts = $10, notes = $11, version = $12, updated_at = $13
WHERE id = $1 AND version = $12 - 1

-- name: add_identifiers
INSERT INTO provider_identifiers (scheme, id, provider_id, position)
SELECT s, i, $3, p FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(s, i, p)

-- name: remove_identifiers
DELETE FROM provider_identifiers WHERE provider_id = $1

-- name: owner_of
SELECT p.id::text AS id, p.legal_name
FROM provider_identifiers i JOIN providers p ON p.id = i.provider_id
WHERE i.scheme = $1 AND i.id = $2

-- name: get
SELECT p.*, ARRAY(SELECT i.scheme || ':' || i.id FROM provider_identifiers i
                  WHERE i.provider_id = p.id ORDER BY i.position) AS identifiers
FROM providers p WHERE p.id = $1

-- name: get_for_update
SELECT p.*, ARRAY(SELECT i.scheme || ':' || i.id FROM provider_identifiers i
                  WHERE i.provider_id = p.id ORDER BY i.position) AS identifiers
FROM providers p WHERE p.id = $1
FOR UPDATE OF p

-- name: list
-- Keyset pagination over (legal_name, id); every filter is optional (NULL: not applied).
SELECT p.*, ARRAY(SELECT i.scheme || ':' || i.id FROM provider_identifiers i
                  WHERE i.provider_id = p.id ORDER BY i.position) AS identifiers
FROM providers p
WHERE ($1::text IS NULL OR (p.legal_name, p.id) > ($1, $2::uuid))
  AND ($3::text IS NULL OR p.search @@ websearch_to_tsquery('simple', $3))
  AND ($4::text IS NULL OR p.kind = $4)
  AND ($5::text IS NULL OR p.status = $5)
  AND ($6::text IS NULL OR $6 = ANY (p.regions))
  AND ($7::boolean IS NULL OR p.sme = $7)
  AND ($8::boolean IS NULL OR p.vcse = $8)
  AND ($9::text[] IS NULL OR EXISTS (
        SELECT 1 FROM provider_identifiers i
        JOIN unnest($9::text[], $10::text[]) AS asked (scheme, id)
          ON i.scheme = asked.scheme AND i.id = asked.id
        WHERE i.provider_id = p.id))
  AND ($11::text IS NULL OR EXISTS (
        SELECT 1 FROM accreditations a
        WHERE a.provider_id = p.id AND a.category = $11 AND a.status = 'active'
          AND a.valid_from <= $12 AND (a.valid_to IS NULL OR a.valid_to >= $12)))
ORDER BY p.legal_name, p.id
LIMIT $13
