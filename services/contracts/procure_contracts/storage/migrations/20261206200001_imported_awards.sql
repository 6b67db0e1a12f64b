-- migrate:up
-- A provider holds at most one live award per lot that we made; an imported process keeps
-- every award its publisher made (issue 24: two awards to one supplier stay two).
DROP INDEX awards_one_live_per_provider;
CREATE UNIQUE INDEX awards_one_live_per_provider ON awards (lot_id, provider_id)
    WHERE NOT cancelled AND jsonb_typeof(doc -> 'imported') IS DISTINCT FROM 'object';

-- migrate:down
DROP INDEX awards_one_live_per_provider;
CREATE UNIQUE INDEX awards_one_live_per_provider ON awards (lot_id, provider_id)
    WHERE NOT cancelled;
