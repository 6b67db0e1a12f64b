-- name: page
-- One statement, so one snapshot. Its xmin is the oldest transaction still running when the
-- snapshot was taken: every transaction with a lower id has finished (committed: visible here;
-- rolled back: never visible), so the rows below it can never grow, and a cursor inside them
-- never passes a row that commits later. Rows of transactions at or above the xmin wait for the
-- next read. The feed's order is (txid, position): commit-safe, though not commit order.
-- Kind 0 rows are the page; the kind 1 row (payload NULL) is the last row below the horizon
-- whoever it belongs to, so that a page that is not full can move the cursor past rows the
-- reader may not see instead of scanning them again on every poll.
WITH horizon AS MATERIALIZED (
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
), page AS (
    SELECT txid, position, payload
    FROM outbox
    WHERE (txid, position) > ($1::text::xid8, $2::bigint)
      AND txid < (SELECT xmin FROM horizon)
      AND ($3::text IS NULL OR buyer_id = $3 OR (buyer_id IS NULL AND $4::boolean))
      AND subject NOT LIKE 'identity.%'  -- revocations are no buyer's business
    ORDER BY txid, position
    LIMIT $5
), tail AS (
    SELECT txid, position
    FROM outbox
    WHERE txid < (SELECT xmin FROM horizon)
    ORDER BY txid DESC, position DESC
    LIMIT 1
)
SELECT kind, txid::text AS txid, position, payload
FROM (
    SELECT 0 AS kind, txid, position, payload FROM page
    UNION ALL
    SELECT 1, txid, position, NULL FROM tail
) AS found
ORDER BY found.kind, found.txid, found.position  -- the xid8, not its text
