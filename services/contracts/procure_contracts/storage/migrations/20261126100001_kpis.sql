-- migrate:up
-- A contract's KPIs (Procurement Act 2023 s.52), stored whole as their JSON document (with
-- their current rating) beside the columns reads filter on; their observations, never changed,
-- one row each. Signing counts a contract's KPIs; ratings read a KPI's latest period.
CREATE TABLE kpis (
    id           uuid        PRIMARY KEY,
    contract_id  uuid        NOT NULL REFERENCES contracts (id),
    lot_id       text,
    buyer_id     text        NOT NULL,
    name         text        NOT NULL,
    rating       text        NOT NULL,
    version      integer     NOT NULL,
    created_at   timestamptz NOT NULL,
    doc          jsonb       NOT NULL
);
CREATE INDEX kpis_contract ON kpis (contract_id, created_at, id);

CREATE TABLE kpi_observations (
    id               uuid        PRIMARY KEY,
    kpi_id           uuid        NOT NULL REFERENCES kpis (id),
    number           integer     NOT NULL,  -- the KPI's 1st, 2nd, ... (the order recorded)
    buyer_id         text        NOT NULL,
    period_start     date        NOT NULL,
    period_end       date        NOT NULL,
    dimension_value  text,
    created_at       timestamptz NOT NULL,  -- recorded at
    doc              jsonb       NOT NULL,
    UNIQUE (kpi_id, number)
);
-- Lists page newest first; ratings and assessments read a KPI's periods by their end.
CREATE INDEX kpi_observations_page ON kpi_observations (kpi_id, created_at DESC, id DESC);
CREATE INDEX kpi_observations_period ON kpi_observations (kpi_id, period_end, period_start);

-- migrate:down
DROP TABLE kpi_observations;
DROP TABLE kpis;
