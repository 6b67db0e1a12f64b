"""What the OCDS export reads: the audited changes of a buyer's tenders, lots, awards,
contracts, milestones and KPIs, in commit-safe order, and what those changes refer to
(``sql/export.sql``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from procure_contracts.contracts.rules import Contract
from procure_contracts.contracts.store import contracts
from procure_contracts.kpis.rules import Kpi, Observation
from procure_contracts.milestones.rules import Milestone
from procure_contracts.ocds.mapping_out import Change, Links, PartyInfo
from procure_contracts.tenders.awards_rules import Award
from procure_contracts.tenders.rules import Lot, Tender
from procure_contracts.tenders.store import awards, lots, tenders
from procure_shared.db.documents import as_uuid
from procure_shared.db.postgres import Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = ["KINDS", "Position", "changes_after", "links_for", "process_changes"]

KINDS: dict[str, type[msgspec.Struct]] = {
    "tender": Tender,
    "lot": Lot,
    "award": Award,
    "contract": Contract,
    "milestone": Milestone,
    "kpi": Kpi,
}
Q = load_queries(Path(__file__).parent / "sql" / "export.sql")

_decoders = {name: msgspec.json.Decoder(kind) for name, kind in KINDS.items()}


@dataclass(frozen=True, slots=True)
class Position:
    """Where a reader of the log stands: the last (transaction, row) it has read."""

    txid: int
    id: int


def _change(row: Any) -> Change:
    decoder = _decoders[row["resource_type"]]
    return Change(
        id=row["id"],
        at=row["occurred_at"],
        action=row["action"],
        resource_type=row["resource_type"],
        before=decoder.decode(row["before"]) if row["before"] else None,
        after=decoder.decode(row["after"]) if row["after"] else None,
    )


async def changes_after(
    conn: Queries,
    position: Position | None,
    *,
    buyer: str | None,
    since: datetime | None,
    limit: int,
) -> tuple[list[Change], Position | None]:
    """Up to ``limit`` changes after ``position``, and the position of the last one read."""
    start = position or Position(0, 0)
    rows = await conn.fetch(
        Q.changes_after, list(KINDS), str(start.txid), start.id, buyer, since, limit
    )
    last = Position(rows[-1]["txid"], rows[-1]["id"]) if rows else position
    return [_change(r) for r in rows], last


async def process_changes(conn: Queries, tender_id: str) -> list[Change]:
    """Every change of one contracting process (a tender and what hangs from it), in order."""
    rows = await conn.fetch(Q.process_changes, uuid.UUID(tender_id))
    return [_change(r) for r in rows]


async def tender_by_ocid(conn: Queries, ocid: str, prefix: str, buyer: str | None) -> Tender | None:
    """The tender whose process ``ocid`` names: ours by its id (the primary key), an imported
    one by the publisher's ocid it keeps."""
    ours = ocid.removeprefix(prefix + "-") if ocid.startswith(prefix + "-") else None
    if ours is not None and as_uuid(ours) is not None:
        return await tenders.get(conn, ours, buyer=buyer)
    text = await conn.fetchval(Q.imported_tender, ocid, buyer)
    return None if text is None else tenders.decode(text)


def _ids(values: Sequence[str | None]) -> list[str]:
    return sorted({v for v in values if v})


async def links_for(conn: Queries, changes: Sequence[Change]) -> Links:
    """What ``changes`` refer to: their tenders, lots, awards, contracts, suppliers and KPI
    observations, each read once."""
    docs = [c.after for c in changes if c.after is not None]
    contract_list = await contracts.many(
        conn,
        _ids(
            [d.id for d in docs if isinstance(d, Contract)]
            + [d.contract_id for d in docs if isinstance(d, Milestone | Kpi)]
        ),
    )
    award_list = await awards.many(
        conn,
        _ids(
            [d.id for d in docs if isinstance(d, Award)]
            + [a for c in contract_list for a in c.award_ids]
        ),
    )
    tender_list = await tenders.many(
        conn,
        _ids(
            [d.id for d in docs if isinstance(d, Tender)]
            + [d.tender_id for d in docs if isinstance(d, Lot | Award)]
            + [t for c in contract_list for t in c.tender_ids]
        ),
    )
    lot_list = await lots.many(
        conn,
        _ids([a.lot_id for a in award_list] + [d.lot_id for d in docs if isinstance(d, Milestone)]),
    )
    provider_ids = _ids(
        [a.provider_id for a in award_list] + [p for c in contract_list for p in c.provider_ids]
    )
    rows = await conn.fetch(Q.parties, provider_ids)
    kpi_ids = _ids([d.id for d in docs if isinstance(d, Kpi)])
    seen = await conn.fetch(Q.observations, [uuid.UUID(k) for k in kpi_ids])
    observations: dict[str, list[Observation]] = {}
    for row in seen:
        o = msgspec.json.decode(row["doc"], type=Observation)
        observations.setdefault(o.kpi_id, []).append(o)
    return Links(
        tenders={t.id: t for t in tender_list},
        lots={lot.id: lot for lot in lot_list},
        awards={a.id: a for a in award_list},
        contracts={c.id: c for c in contract_list},
        parties={
            r["id"]: PartyInfo(r["id"], r["legal_name"], tuple(r["identifiers"])) for r in rows
        },
        observations=observations,
    )
