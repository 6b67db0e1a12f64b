-- migrate:up
-- Amounts as their publisher wrote them (issue 24: an imported 55463.776 stays 55463.776): the
-- columns lists filter and sort on take any scale, like the documents beside them.
ALTER TABLE tenders ALTER COLUMN value_amount TYPE numeric;
ALTER TABLE lots ALTER COLUMN value_amount TYPE numeric;
ALTER TABLE awards ALTER COLUMN value_amount TYPE numeric;
ALTER TABLE contracts ALTER COLUMN current_amount TYPE numeric;

-- migrate:down
ALTER TABLE contracts ALTER COLUMN current_amount TYPE numeric(16, 2);
ALTER TABLE awards ALTER COLUMN value_amount TYPE numeric(16, 2);
ALTER TABLE lots ALTER COLUMN value_amount TYPE numeric(16, 2);
ALTER TABLE tenders ALTER COLUMN value_amount TYPE numeric(16, 2);
