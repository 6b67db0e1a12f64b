-- migrate:up
-- Which transaction wrote each audit row. Ids are taken before commit, so they commit out of
-- order; readers that page the log by a cursor (the OCDS releases) read only rows of
-- transactions that have all finished (txid below the oldest still running), in (txid, id)
-- order, and so never skip a row committed late.
ALTER TABLE audit_log ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX audit_log_txid ON audit_log (txid, id);

-- migrate:down
DROP INDEX audit_log_txid;
ALTER TABLE audit_log DROP COLUMN txid;
