-- migrate:up
-- What the milestone monitor has noticed about each milestone's current due date (kept from
-- the document's notices on every write, so a new due date is unnoticed again).
ALTER TABLE milestones
    ADD COLUMN due_soon_noticed boolean NOT NULL DEFAULT false,
    ADD COLUMN overdue_noticed  boolean NOT NULL DEFAULT false;
-- Only what is still owed a notice is in these indexes: a scan that finds nothing new reads
-- an index range that is empty, however many milestones there are.
CREATE INDEX milestones_owed_overdue ON milestones (due_on)
    WHERE status = 'scheduled' AND NOT overdue_noticed;
CREATE INDEX milestones_owed_due_soon ON milestones (due_on)
    WHERE status = 'scheduled' AND NOT overdue_noticed AND NOT due_soon_noticed;

-- migrate:down
DROP INDEX milestones_owed_due_soon;
DROP INDEX milestones_owed_overdue;
ALTER TABLE milestones DROP COLUMN overdue_noticed, DROP COLUMN due_soon_noticed;
