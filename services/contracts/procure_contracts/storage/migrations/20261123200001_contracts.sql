-- migrate:up
-- Each aggregate is stored whole as its JSON document (what the API returns), beside the
-- columns that lists filter, sort and search on. Lists page by (created_at, id) descending.
CREATE TABLE tenders (
    id                   uuid        PRIMARY KEY,
    buyer_id             text        NOT NULL,
    status               text        NOT NULL,
    title                text        NOT NULL,
    description          text,
    value_amount         numeric(16, 2),
    submission_deadline  timestamptz,
    version              integer     NOT NULL,
    created_at           timestamptz NOT NULL,
    doc                  jsonb       NOT NULL,
    search               tsvector GENERATED ALWAYS AS (
        to_tsvector('english', title || ' ' || coalesce(description, ''))
    ) STORED
);
CREATE INDEX tenders_page ON tenders (buyer_id, created_at DESC, id DESC);
CREATE INDEX tenders_status ON tenders (buyer_id, status, created_at DESC, id DESC);
CREATE INDEX tenders_search ON tenders USING gin (search);

CREATE TABLE lots (
    id            uuid        PRIMARY KEY,
    tender_id     uuid        NOT NULL REFERENCES tenders (id),
    buyer_id      text        NOT NULL,
    status        text        NOT NULL,
    category      text        NOT NULL,
    title         text        NOT NULL,
    description   text,
    value_amount  numeric(16, 2),
    version       integer     NOT NULL,
    created_at    timestamptz NOT NULL,
    doc           jsonb       NOT NULL,
    search        tsvector GENERATED ALWAYS AS (
        to_tsvector('english', title || ' ' || coalesce(description, ''))
    ) STORED
);
CREATE INDEX lots_tender ON lots (tender_id, created_at DESC, id DESC);
CREATE INDEX lots_category ON lots (buyer_id, category);

CREATE TABLE awards (
    id               uuid        PRIMARY KEY,
    tender_id        uuid        NOT NULL REFERENCES tenders (id),
    lot_id           uuid        NOT NULL REFERENCES lots (id),
    buyer_id         text        NOT NULL,
    provider_id      text        NOT NULL,
    cancelled        boolean     NOT NULL,
    standstill_ends  timestamptz NOT NULL,
    decided_at       timestamptz NOT NULL,
    value_amount     numeric(16, 2),
    version          integer     NOT NULL,
    created_at       timestamptz NOT NULL,
    doc              jsonb       NOT NULL
);
CREATE INDEX awards_page ON awards (buyer_id, created_at DESC, id DESC);
CREATE INDEX awards_lot ON awards (lot_id, created_at DESC, id DESC);
CREATE INDEX awards_tender ON awards (tender_id, created_at DESC, id DESC);
CREATE INDEX awards_provider ON awards (provider_id, created_at DESC, id DESC);
-- A provider holds at most one live award per lot: the index settles concurrent awards.
CREATE UNIQUE INDEX awards_one_live_per_provider ON awards (lot_id, provider_id)
    WHERE NOT cancelled;

CREATE TABLE contracts (
    id              uuid        PRIMARY KEY,
    buyer_id        text        NOT NULL,
    status          text        NOT NULL,
    title           text        NOT NULL,
    description     text,
    categories      text[]      NOT NULL,
    provider_ids    text[]      NOT NULL,
    lot_ids         text[]      NOT NULL,
    tender_ids      text[]      NOT NULL,
    current_amount  numeric(16, 2),
    starts_on       date,
    ends_on         date,
    flagged         boolean     NOT NULL,
    version         integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    doc             jsonb       NOT NULL,
    search          tsvector GENERATED ALWAYS AS (
        to_tsvector('english', title || ' ' || coalesce(description, ''))
    ) STORED
);
CREATE INDEX contracts_page ON contracts (buyer_id, created_at DESC, id DESC);
CREATE INDEX contracts_status ON contracts (buyer_id, status, created_at DESC, id DESC);
CREATE INDEX contracts_providers ON contracts USING gin (provider_ids);
CREATE INDEX contracts_categories ON contracts USING gin (categories);
CREATE INDEX contracts_lots ON contracts USING gin (lot_ids);
CREATE INDEX contracts_search ON contracts USING gin (search);

-- Awards and contracts, many to many (so lots and contracts are too).
CREATE TABLE contract_awards (
    contract_id  uuid NOT NULL REFERENCES contracts (id),
    award_id     uuid NOT NULL REFERENCES awards (id),
    PRIMARY KEY (contract_id, award_id)
);
CREATE INDEX contract_awards_award ON contract_awards (award_id);

-- The providers' names, identifiers and status, kept from the providers service's events
-- (never read from its database).
CREATE TABLE provider_directory (
    id           text        PRIMARY KEY,
    legal_name   text        NOT NULL,
    identifiers  text[]      NOT NULL,
    status       text        NOT NULL,
    version      integer     NOT NULL
);
CREATE INDEX provider_directory_identifiers ON provider_directory USING gin (identifiers);

-- migrate:down
DROP TABLE provider_directory;
DROP TABLE contract_awards;
DROP TABLE contracts;
DROP TABLE awards;
DROP TABLE lots;
DROP TABLE tenders;
