-- The contracts feature's statements over its tables: contracts and the awards each rests on
-- (procure_contracts.contracts.store). Reading, inserting and saving one document, and the
-- list's keyset page, are built by procure_shared.db.documents.

-- name: link_awards
INSERT INTO contract_awards (contract_id, award_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING

-- name: kpi_count
-- How many KPIs a contract has defined (section 52: a contract over £5m needs three).
SELECT count(*) FROM kpis WHERE contract_id = $1
