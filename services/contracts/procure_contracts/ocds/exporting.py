"""The OCDS export: a buyer's changes as releases, in the order they committed, and a
process's record (its releases and the compiled release the OCDS merge rules give)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from procure_contracts.ocds import store
from procure_contracts.ocds.mapping_out import Links, releases_of, standstill_ends
from procure_contracts.ocds.merge import Compiler
from procure_contracts.ocds.store import Position
from procure_contracts.usecases.context import Who
from procure_shared.db.postgres import Queries
from procure_shared.errors import NotFound

__all__ = ["Position", "Publication", "Publisher", "record", "releases_after"]


@dataclass(frozen=True, slots=True)
class Publisher:
    """The organisation that publishes a package: OCDS's ``publisher`` (name, and the
    organisation's identifier: its ``scheme`` and ``uid``; its ``uri``)."""

    name: str
    scheme: str | None = None
    uid: str | None = None
    uri: str | None = None

    def as_ocds(self) -> dict[str, str]:
        fields = (("name", self.name), ("scheme", self.scheme), ("uid", self.uid))
        return {k: v for k, v in (*fields, ("uri", self.uri)) if v}


@dataclass(frozen=True, slots=True)
class Publication:
    """How the service publishes OCDS: its ocid prefix, each buyer's organisation as the
    publisher of its data (and the name of the operator who publishes several buyers' at
    once), the buyers' names, the licence and publication policy, and the merge rules (from
    the schemas)."""

    compiler: Compiler
    ocid_prefix: str = "ocds-procure"
    publisher: str = "Procure"
    buyer_names: Mapping[str, str] = field(default_factory=dict)
    publishers: Mapping[str, Publisher] = field(default_factory=dict)
    license: str | None = None
    publication_policy: str | None = None

    def publisher_of(self, buyer: str | None) -> Publisher:
        """Who publishes a package of ``buyer``'s data (None: of several buyers')."""
        if buyer is None:
            return Publisher(self.publisher)
        found = self.publishers.get(buyer)
        return found if found is not None else Publisher(self.buyer_names.get(buyer, buyer))

    def metadata(self, buyer: str | None) -> dict[str, Any]:
        """A package's ``publisher``, ``license`` and ``publicationPolicy``."""
        out: dict[str, Any] = {"publisher": self.publisher_of(buyer).as_ocds()}
        if self.license:
            out["license"] = self.license
        if self.publication_policy:
            out["publicationPolicy"] = self.publication_policy
        return out


def _named(links: Links, publication: Publication) -> Links:
    return dataclasses.replace(links, buyer_names=publication.buyer_names)


async def releases_after(
    conn: Queries,
    who: Who,
    position: Position | None,
    *,
    since: datetime | None,
    limit: int,
    publication: Publication,
) -> tuple[list[dict[str, Any]], Position | None]:
    """The releases of the next ``limit`` changes the caller may see, and where they end."""
    changes, last = await store.changes_after(
        conn, position, buyer=who.scope, since=since, limit=limit
    )
    links = _named(await store.links_for(conn, changes), publication)
    releases = [r for c in changes for _, r in releases_of(c, links, publication.ocid_prefix)]
    return releases, last


async def record(
    conn: Queries, who: Who, ocid: str, *, now: datetime, publication: Publication
) -> tuple[dict[str, Any], str]:
    """The record of the process ``ocid`` (its releases, oldest first, and its compiled
    release) and the process's buyer."""
    prefix = publication.ocid_prefix
    tender = await store.tender_by_ocid(conn, ocid, prefix, who.scope)
    if tender is None:
        raise NotFound(f"no contracting process {ocid}")
    changes = await store.process_changes(conn, tender.id)
    links = _named(await store.links_for(conn, changes), publication)
    releases = [r for c in changes for o, r in releases_of(c, links, prefix) if o == ocid]
    # Awards are stored as made; the standstill's end is a release of its own, dated then.
    awards = [a for a in links.awards.values() if a.tender_id == tender.id]
    releases += standstill_ends(ocid, awards, links, now)
    compiled = {
        "ocid": ocid,
        "releases": releases,
        "compiledRelease": publication.compiler.compile(releases),
    }
    return compiled, tender.buyer_id
