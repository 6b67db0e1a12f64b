-- migrate:up
-- The track record: a read model of the contracts service's events, one row per award,
-- contract, milestone and KPI (per provider), holding the latest state the events gave it.
-- Provider ids are text: events may name providers this registry has not seen (yet).
CREATE TABLE track_awards (
    award_id     text        NOT NULL,
    provider_id  text        NOT NULL,
    tender_id    text        NOT NULL,
    lot_id       text        NOT NULL,
    category     text        NOT NULL,
    amount       numeric,
    currency     text,
    status       text        NOT NULL,
    awarded_at   timestamptz NOT NULL,
    PRIMARY KEY (award_id, provider_id)
);
CREATE INDEX track_awards_provider ON track_awards (provider_id);

CREATE TABLE track_contracts (
    contract_id  text NOT NULL,
    provider_id  text NOT NULL,
    title        text NOT NULL,
    status       text NOT NULL,
    amount       numeric,
    currency     text,
    starts_on    date,
    ends_on      date,
    PRIMARY KEY (contract_id, provider_id)
);
CREATE INDEX track_contracts_provider ON track_contracts (provider_id);

CREATE TABLE track_milestones (
    milestone_id  text NOT NULL,
    provider_id   text NOT NULL,
    contract_id   text NOT NULL,
    title         text NOT NULL,
    status        text NOT NULL,
    due_on        date NOT NULL,
    met_on        date,
    PRIMARY KEY (milestone_id, provider_id)
);
CREATE INDEX track_milestones_provider ON track_milestones (provider_id);

CREATE TABLE track_ratings (
    kpi_id       text        NOT NULL,
    provider_id  text        NOT NULL,
    contract_id  text        NOT NULL,
    name         text        NOT NULL,
    rating       text        NOT NULL,
    period_end   date        NOT NULL,
    rated_at     timestamptz NOT NULL,
    PRIMARY KEY (kpi_id, provider_id)
);
CREATE INDEX track_ratings_latest ON track_ratings (provider_id, rated_at DESC, kpi_id);

-- migrate:down
DROP TABLE track_ratings;
DROP TABLE track_milestones;
DROP TABLE track_contracts;
DROP TABLE track_awards;
