-- What the OCDS export reads (procure_contracts.ocds.store): the audited changes of a buyer's
-- tenders, lots, awards, contracts, milestones and KPIs, and what those changes refer to.

-- name: changes_after
-- Rows of finished transactions only (below the oldest running one), in (txid, id) order: a
-- transaction that took a lower id but commits later is read when it has committed, after the
-- rows already read, never skipped.
SELECT id, txid::text::bigint AS txid, occurred_at, action, resource_type,
       before::text AS before, after::text AS after
FROM audit_log
WHERE resource_type = ANY($1::text[])
  AND (txid, id) > ($2::text::xid8, $3::bigint)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
  AND ($4::text IS NULL OR coalesce(after, before) ->> 'buyerId' = $4)
  AND ($5::timestamptz IS NULL OR occurred_at >= $5)
ORDER BY txid, id
LIMIT $6

-- name: process_changes
-- Every change of one contracting process: the tender $1 and what hangs from it, in order.
WITH t AS (SELECT id FROM tenders WHERE id = $1),
c AS (SELECT id FROM contracts WHERE $1::text = ANY(tender_ids))
SELECT id, 0::bigint AS txid, occurred_at, action, resource_type,
       before::text AS before, after::text AS after
FROM audit_log
WHERE (resource_type = 'tender' AND resource_id = $1::text)
   OR (resource_type = 'lot' AND resource_id IN (SELECT id::text FROM lots WHERE tender_id = $1))
   OR (resource_type = 'award'
       AND resource_id IN (SELECT id::text FROM awards WHERE tender_id = $1))
   OR (resource_type = 'contract' AND resource_id IN (SELECT id::text FROM c))
   OR (resource_type = 'milestone'
       AND resource_id IN (SELECT id::text FROM milestones WHERE contract_id IN (SELECT id FROM c)))
   OR (resource_type = 'kpi'
       AND resource_id IN (SELECT id::text FROM kpis WHERE contract_id IN (SELECT id FROM c)))
ORDER BY id

-- name: imported_tender
-- The tender imported from the publisher's process $1 (the ocid it keeps), if $2 (a buyer,
-- NULL: every buyer's) may see it.
SELECT doc::text FROM tenders WHERE doc -> 'imported' ->> 'ocid' = $1
AND ($2::text IS NULL OR buyer_id = $2) LIMIT 1

-- name: parties
SELECT id, legal_name, identifiers FROM provider_directory WHERE id = ANY($1::text[])

-- name: observations
SELECT doc::text AS doc FROM kpi_observations WHERE kpi_id = ANY($1::uuid[])
ORDER BY kpi_id, number
