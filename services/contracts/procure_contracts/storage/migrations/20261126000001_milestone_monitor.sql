-- migrate:up
-- What the milestone monitor still owes each milestone: the due date while a notice is owed
-- (NULL once sent, or when the milestone is settled), kept from the document on every write,
-- so a new due date is owed its notices again. Only owed milestones are in these indexes, and
-- the planner's statistics on these columns describe only them: a pass that finds nothing new
-- reads two empty index ranges, however many milestones there are.
ALTER TABLE milestones
    ADD COLUMN owed_due_soon date,
    ADD COLUMN owed_overdue  date;
CREATE INDEX milestones_owed_due_soon ON milestones (owed_due_soon)
    WHERE owed_due_soon IS NOT NULL;
CREATE INDEX milestones_owed_overdue ON milestones (owed_overdue)
    WHERE owed_overdue IS NOT NULL;

-- migrate:down
DROP INDEX milestones_owed_overdue;
DROP INDEX milestones_owed_due_soon;
ALTER TABLE milestones DROP COLUMN owed_overdue, DROP COLUMN owed_due_soon;
