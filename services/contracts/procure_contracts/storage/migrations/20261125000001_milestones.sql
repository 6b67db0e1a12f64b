-- migrate:up
-- A contract's milestones (delivery, reporting, payment), stored whole as their JSON document
-- beside the columns lists filter on. A milestone's provider is its contract's: lists filter
-- by provider through the contracts table (suppliers change by amendment).
CREATE TABLE milestones (
    id           uuid        PRIMARY KEY,
    contract_id  uuid        NOT NULL REFERENCES contracts (id),
    lot_id       text,
    buyer_id     text        NOT NULL,
    kind         text        NOT NULL,
    status       text        NOT NULL,
    title        text        NOT NULL,
    due_on       date        NOT NULL,
    met_on       date,
    version      integer     NOT NULL,
    created_at   timestamptz NOT NULL,
    doc          jsonb       NOT NULL
);
CREATE INDEX milestones_page ON milestones (buyer_id, created_at DESC, id DESC);
CREATE INDEX milestones_contract ON milestones (contract_id, due_on, id);
-- What falls due: the monitor (and the due filters) look for scheduled milestones by date.
CREATE INDEX milestones_due ON milestones (status, due_on);

-- migrate:down
DROP TABLE milestones;
