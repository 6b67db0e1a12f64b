-- migrate:up
-- The provider registry, shared by all buyers.
CREATE TABLE providers (
    id            uuid        PRIMARY KEY,
    legal_name    text        NOT NULL,
    trading_name  text,
    kind          text        NOT NULL,
    sme           boolean     NOT NULL DEFAULT false,
    vcse          boolean     NOT NULL DEFAULT false,
    status        text        NOT NULL,
    addresses     jsonb       NOT NULL DEFAULT '[]',
    regions       text[]      NOT NULL DEFAULT '{}',
    contacts      jsonb       NOT NULL DEFAULT '[]',
    notes         text,
    version       integer     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    search        tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', legal_name || ' ' || coalesce(trading_name, ''))
    ) STORED
);
CREATE INDEX providers_by_name ON providers (legal_name, id);
CREATE INDEX providers_search ON providers USING gin (search);

-- An identifier names one provider only: the primary key settles registration races.
CREATE TABLE provider_identifiers (
    scheme       text NOT NULL,
    id           text NOT NULL,
    provider_id  uuid NOT NULL REFERENCES providers (id),
    position     integer NOT NULL,
    PRIMARY KEY (scheme, id)
);
CREATE INDEX provider_identifiers_provider ON provider_identifiers (provider_id, position);

CREATE TABLE accreditations (
    id              uuid        PRIMARY KEY,
    provider_id     uuid        NOT NULL REFERENCES providers (id),
    category        text        NOT NULL,
    granted_by      text        NOT NULL,
    valid_from      date        NOT NULL,
    valid_to        date,
    evidence_ref    text,
    status          text        NOT NULL,
    revoked_reason  text,
    version         integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX accreditations_provider ON accreditations (provider_id, category);
-- The expiry watch looks at active accreditations with an end date.
CREATE INDEX accreditations_ending ON accreditations (valid_to) WHERE status = 'active';

-- One row per notice sent (expiring, expired) per validity period: what makes each notice
-- exactly-once across instances and restarts.
CREATE TABLE accreditation_notices (
    accreditation_id  uuid        NOT NULL REFERENCES accreditations (id),
    kind              text        NOT NULL,
    valid_to          date        NOT NULL,
    sent_at           timestamptz NOT NULL,
    PRIMARY KEY (accreditation_id, kind, valid_to)
);

CREATE TABLE exclusions (
    id           uuid        PRIMARY KEY,
    provider_id  uuid        NOT NULL REFERENCES providers (id),
    ground       text        NOT NULL,
    source       text        NOT NULL,
    starts_on    date        NOT NULL,
    ends_on      date,
    lifted_on    date,
    lift_reason  text,
    version      integer     NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX exclusions_provider ON exclusions (provider_id, starts_on);

-- migrate:down
DROP TABLE exclusions;
DROP TABLE accreditation_notices;
DROP TABLE accreditations;
DROP TABLE provider_identifiers;
DROP TABLE providers;
