-- OCDS releases as imported, and what the import reads and links in one round trip each
-- (procure_contracts.ocds.releases).

-- name: lock_processes
-- Hold each process until the transaction ends, in one order so two imports never wait for
-- each other.
SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(o, 7) AS k
                                      FROM unnest($1::text[]) AS o ORDER BY k) AS keys

-- name: owners
SELECT DISTINCT ON (ocid) ocid, buyer_id FROM ocds_releases
WHERE ocid = ANY($1::text[]) ORDER BY ocid

-- name: store
INSERT INTO ocds_releases (ocid, release_id, buyer_id, source, date, doc, imported_at)
SELECT r.ocid, r.release_id, $4, $5, r.date, r.doc::jsonb, $6
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $7::text[]) AS r (ocid, release_id, date, doc)
ON CONFLICT DO NOTHING RETURNING ocid, release_id

-- name: stored
SELECT s.ocid, s.release_id, s.source, s.doc::text AS doc FROM ocds_releases AS s
JOIN unnest($1::text[], $2::text[]) AS k (ocid, release_id)
  ON s.ocid = k.ocid AND s.release_id = k.release_id

-- name: processes
SELECT ocid, buyer_id, doc::text AS doc
FROM ocds_releases WHERE ocid = ANY($1::text[])
ORDER BY ocid, date NULLS FIRST, imported_at, release_id

-- name: observations_of
SELECT kpi_id::text AS kpi_id, array_agg(id::text) AS ids, max(number) AS last
FROM kpi_observations WHERE kpi_id = ANY($1::uuid[]) GROUP BY kpi_id

-- name: imported_tenders
SELECT doc::text AS doc FROM tenders WHERE doc -> 'imported' ->> 'ocid' = ANY($1::text[])
