-- migrate:up
-- The pull change feed (procure_shared.messaging.feed) reads the outbox in commit-safe order. Positions
-- are taken when a row is inserted but become visible when its transaction commits, so a reader
-- ordering by position alone skips a row whose transaction took a lower position and committed
-- later. Each row therefore records its transaction's id: the feed reads only rows of
-- transactions below its snapshot's xmin (all of them finished, so that set never grows), in
-- (txid, position) order. pg_current_xact_id() is the top-level transaction's id even inside a
-- savepoint. Rows written before this migration all get the migration's own id (a stable
-- default is evaluated once), which is fine: they keep their position order.
ALTER TABLE outbox
    ADD COLUMN txid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN buyer_id text;                   -- the envelope's buyerid; NULL on shared data
UPDATE outbox SET buyer_id = convert_from(payload, 'UTF8')::jsonb ->> 'buyerid';
CREATE INDEX outbox_feed ON outbox (txid, position);

-- migrate:down
DROP INDEX outbox_feed;
ALTER TABLE outbox DROP COLUMN buyer_id, DROP COLUMN txid;
