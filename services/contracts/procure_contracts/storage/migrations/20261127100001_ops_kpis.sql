-- migrate:up
-- The KPIs whose current rating makes their contract red or amber on the ops dashboard
-- (decision 14): only those are in this index, per buyer.
CREATE INDEX kpis_flagged ON kpis (buyer_id, contract_id)
    WHERE rating IN ('inadequate', 'requires_improvement', 'approaching_target');
-- The KPI panel's order: a buyer's KPIs worst rating first, then the oldest first.
CREATE INDEX kpis_worst_first ON kpis (
    buyer_id,
    array_position(ARRAY['inadequate', 'requires_improvement', 'approaching_target', 'other',
                         'good']::text[], rating),
    created_at,
    id
);

-- migrate:down
DROP INDEX kpis_worst_first;
DROP INDEX kpis_flagged;
