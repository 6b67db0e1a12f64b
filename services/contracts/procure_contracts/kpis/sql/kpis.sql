-- The KPIs feature's statements over its tables: KPIs and their observations
-- (procure_contracts.kpis.store). Reading, inserting and saving one document, and the
-- observations' keyset page, are built by procure_shared.db.documents.

-- name: kpis_of
-- A contract's KPIs in the order they were defined as one JSON array; no row if $2 (a buyer,
-- NULL: every buyer's) may not see the contract.
SELECT (SELECT coalesce(json_agg(k.doc ORDER BY k.created_at, k.id), '[]')
        FROM kpis k WHERE k.contract_id = c.id)::text
FROM contracts c WHERE c.id = $1 AND ($2::text IS NULL OR c.buyer_id = $2)

-- name: contract_kpis
SELECT doc::text AS doc FROM kpis WHERE contract_id = $1 ORDER BY created_at, id

-- name: latest_observations
-- The observations of a KPI's latest period (latest end, then start), in the order recorded.
SELECT doc::text AS doc FROM kpi_observations WHERE kpi_id = $1
AND (period_end, period_start) = (SELECT period_end, period_start
                                  FROM kpi_observations WHERE kpi_id = $1
                                  ORDER BY period_end DESC, period_start DESC LIMIT 1)
ORDER BY number

-- name: observations_ending
-- The observations of a contract's KPIs for periods ending from $2 to $3, each KPI's in the
-- order recorded.
SELECT o.doc::text AS doc FROM kpi_observations o JOIN kpis k ON k.id = o.kpi_id
WHERE k.contract_id = $1 AND o.period_end BETWEEN $2 AND $3
ORDER BY o.kpi_id, o.number
