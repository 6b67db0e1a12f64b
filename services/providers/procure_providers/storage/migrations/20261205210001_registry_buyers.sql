-- migrate:up
-- Which buyer each registry record and track record row belongs to.
--
-- Accreditations and exclusions: the buyer that recorded one may change it (besides admin).
-- Existing rows take the buyer of their creation's audit row; one without (or recorded by an
-- actor of no buyer) stays NULL: admin only.
ALTER TABLE accreditations ADD COLUMN buyer_id text;
ALTER TABLE exclusions ADD COLUMN buyer_id text;

UPDATE accreditations a SET buyer_id = first.buyer_id
FROM (SELECT DISTINCT ON (resource_id) resource_id, buyer_id
      FROM audit_log
      WHERE resource_type = 'accreditation'
      ORDER BY resource_id, id) AS first
WHERE first.resource_id = a.id::text AND first.buyer_id IS NOT NULL;

UPDATE exclusions e SET buyer_id = first.buyer_id
FROM (SELECT DISTINCT ON (resource_id) resource_id, buyer_id
      FROM audit_log
      WHERE resource_type = 'exclusion'
      ORDER BY resource_id, id) AS first
WHERE first.resource_id = e.id::text AND first.buyer_id IS NOT NULL;

-- The track record: the buyer of the contracts service's event (its envelope's buyerid). A
-- provider's portfolio shows its reader's buyer's rows in full and the others' as totals; rows
-- written before this column are of no known buyer (NULL): totals only, but to admin.
ALTER TABLE track_awards ADD COLUMN buyer_id text;
ALTER TABLE track_contracts ADD COLUMN buyer_id text;
ALTER TABLE track_milestones ADD COLUMN buyer_id text;
ALTER TABLE track_ratings ADD COLUMN buyer_id text;

-- migrate:down
ALTER TABLE track_ratings DROP COLUMN buyer_id;
ALTER TABLE track_milestones DROP COLUMN buyer_id;
ALTER TABLE track_contracts DROP COLUMN buyer_id;
ALTER TABLE track_awards DROP COLUMN buyer_id;
ALTER TABLE exclusions DROP COLUMN buyer_id;
ALTER TABLE accreditations DROP COLUMN buyer_id;
