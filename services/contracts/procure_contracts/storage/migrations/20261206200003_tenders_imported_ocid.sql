-- migrate:up
-- An imported tender by the publisher's ocid it keeps: how an import knows the releases we
-- published of an imported process (issue 24), and how /v1/ocds/records finds one.
CREATE INDEX tenders_imported_ocid ON tenders ((doc -> 'imported' ->> 'ocid'));

-- migrate:down
DROP INDEX tenders_imported_ocid;
