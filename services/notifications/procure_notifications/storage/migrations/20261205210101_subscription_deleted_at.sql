-- migrate:up
-- A deleted subscription is hidden and disabled, not removed: its deliveries and their
-- attempts stay readable by its owner. Its pending deliveries become 'cancelled' (never
-- sent), and its signing secrets are cleared.
ALTER TABLE subscriptions ADD COLUMN deleted_at timestamptz;
-- The fan-out and the per-owner cap look only at live subscriptions.
CREATE INDEX subscriptions_live_owner ON subscriptions (owner_sub, buyer_id)
    WHERE deleted_at IS NULL;

-- migrate:down
DELETE FROM subscriptions WHERE deleted_at IS NOT NULL;
DROP INDEX subscriptions_live_owner;
ALTER TABLE subscriptions DROP COLUMN deleted_at;
