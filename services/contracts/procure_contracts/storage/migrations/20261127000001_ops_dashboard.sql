-- migrate:up
-- The ops dashboard (decision 14). What falls due, per buyer: a small index over the scheduled
-- milestones only (settled ones never fall due), in due order, with the contract to join and
-- the milestone's id (the dashboard's ranges are read from the index alone).
CREATE INDEX milestones_open_due ON milestones (buyer_id, due_on, contract_id, id)
    WHERE status = 'scheduled';

-- The RAG rule of a live contract, in one place: red when a milestone is overdue, amber when
-- one falls due within the window, else green. KPI ratings join it (`worst_kpi`, the worst
-- current rating of the contract's KPIs; NULL until the dashboard reads KPIs): inadequate makes
-- it red, requires improvement or approaching target amber. An inlined SQL function: the
-- planner sees the CASE.
CREATE FUNCTION ops_rag(overdue bigint, due_soon bigint, worst_kpi text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN overdue > 0 OR worst_kpi = 'inadequate' THEN 'red'
        WHEN due_soon > 0 OR worst_kpi IN ('requires_improvement', 'approaching_target')
            THEN 'amber'
        ELSE 'green'
    END
$$;

-- migrate:down
DROP FUNCTION ops_rag(bigint, bigint, text);
DROP INDEX milestones_open_due;
