-- The provider directory: the contracts service's read model of the providers' events
-- (procure_contracts.storage.directory).

-- name: legal_names
SELECT id, legal_name FROM provider_directory WHERE id = ANY($1::text[])

-- name: by_identifier
-- The provider holding an identifier (scheme:id).
SELECT id FROM provider_directory WHERE identifiers @> ARRAY[$1::text]

-- name: record
-- The newest version of a provider (events may arrive again, never older ones).
INSERT INTO provider_directory (id, legal_name, identifiers, status, version)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET legal_name = $2, identifiers = $3, status = $4, version = $5
WHERE provider_directory.version < $5
