"""OCDS releases as imported: stored once each (by ocid and release id), read back by process.
Every function here is one round trip, whatever the number of releases or processes
(``sql/releases.sql``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from procure_contracts.tenders.rules import Tender
from procure_contracts.tenders.store import tenders
from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries

__all__ = [
    "ReleaseRow",
    "StoredProcess",
    "imported_tenders",
    "lock_processes",
    "observations_of",
    "owners",
    "processes",
    "store",
    "stored",
]

Q = load_queries(Path(__file__).parent / "sql" / "releases.sql")


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    ocid: str
    release_id: str
    date: datetime | None
    doc: bytes  # the release as JSON


async def lock_processes(conn: Connection, ocids: Sequence[str]) -> None:
    """Hold each process until the transaction ends (imports of one process take turns), in
    one order so that two imports never wait for each other."""
    await conn.execute(
        Q.lock_processes,
        sorted(set(ocids)),
    )


async def owners(conn: Connection, ocids: Sequence[str]) -> dict[str, str]:
    """The buyer each process already stored belongs to (that of its first import)."""
    rows = await conn.fetch(
        Q.owners,
        list(set(ocids)),
    )
    return {row["ocid"]: row["buyer_id"] for row in rows}


async def store(
    conn: Connection, rows: Sequence[ReleaseRow], *, buyer_id: str, source: str, at: datetime
) -> set[tuple[str, str]]:
    """Store the releases not stored yet; the (ocid, release id) of those it stored."""
    if not rows:
        return set()
    stored = await conn.fetch(
        Q.store,
        [r.ocid for r in rows],
        [r.release_id for r in rows],
        [r.date for r in rows],
        buyer_id,
        source,
        at,
        [r.doc.decode() for r in rows],
    )
    return {(row["ocid"], row["release_id"]) for row in stored}


@dataclass(frozen=True, slots=True)
class Stored:
    source: str  # the import that stored it
    doc: Any  # the release as stored


async def stored(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Stored]:
    """The releases already stored under these (ocid, release id)s."""
    rows = await conn.fetch(
        Q.stored,
        [o for o, _ in keys],
        [r for _, r in keys],
    )
    return {
        (row["ocid"], row["release_id"]): Stored(row["source"], msgspec.json.decode(row["doc"]))
        for row in rows
    }


@dataclass(frozen=True, slots=True)
class StoredProcess:
    buyer_id: str  # whose process it is: the buyer of its first import
    releases: list[dict[str, Any]]  # in date order (undated first)


async def processes(conn: Connection, ocids: Sequence[str]) -> dict[str, StoredProcess]:
    """The stored releases of each process."""
    rows = await conn.fetch(
        Q.processes,
        list(set(ocids)),
    )
    found: dict[str, StoredProcess] = {}
    for row in rows:
        process = found.setdefault(row["ocid"], StoredProcess(row["buyer_id"], []))
        process.releases.append(msgspec.json.decode(row["doc"]))
    return found


async def observations_of(
    conn: Connection, kpi_ids: Sequence[str]
) -> dict[str, tuple[set[str], int]]:
    """Each KPI's stored observation ids and the last number given (one round trip)."""
    rows = await conn.fetch(
        Q.observations_of,
        [uuid.UUID(k) for k in kpi_ids],
    )
    return {row["kpi_id"]: (set(row["ids"]), row["last"]) for row in rows}


async def imported_tenders(conn: Connection, ocids: Sequence[str]) -> dict[str, list[Tender]]:
    """The tenders imported from each of these processes (by the publisher's ocid they keep)."""
    rows = await conn.fetch(
        Q.imported_tenders,
        sorted(set(ocids)),
    )
    found: dict[str, list[Tender]] = {}
    for row in rows:
        tender = tenders.decode(row["doc"])
        if tender.imported is not None:
            found.setdefault(tender.imported.ocid, []).append(tender)
    return found
