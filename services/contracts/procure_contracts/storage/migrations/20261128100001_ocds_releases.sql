-- migrate:up
-- OCDS releases as imported (issue 7, decision 17): each stored once, by its process (ocid) and
-- its id, exactly as published (unknown fields kept), for the buyer the first import chose.
-- A process's aggregates are compiled from all of its releases here, in date order.
CREATE TABLE ocds_releases (
    ocid         text        NOT NULL,
    release_id   text        NOT NULL,
    buyer_id     text        NOT NULL,
    source       text        NOT NULL,
    date         timestamptz,
    doc          jsonb       NOT NULL,
    imported_at  timestamptz NOT NULL,
    PRIMARY KEY (ocid, release_id)
);

-- migrate:down
DROP TABLE ocds_releases;
