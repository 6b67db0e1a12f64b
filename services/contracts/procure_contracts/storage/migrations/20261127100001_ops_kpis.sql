-- migrate:up
-- The KPIs whose current rating makes their contract red or amber on the ops dashboard
-- (decision 14): only those are in this index, per buyer.
CREATE INDEX kpis_flagged ON kpis (buyer_id, contract_id)
    WHERE rating IN ('inadequate', 'requires_improvement', 'approaching_target');

-- migrate:down
DROP INDEX kpis_flagged;
