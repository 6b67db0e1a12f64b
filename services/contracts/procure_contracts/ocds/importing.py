"""Importing one OCDS document (release package, record package, record or bare release):
validate every release and compiled release, store the releases not stored yet, compile each
process the document touches from all of its stored releases, and make or change its
aggregates, each change with its audit row and ``contracts.*.imported`` event, in the caller's
transaction (decision 17).

Releases under our own ocid prefix are ours only as we published them (the same release id
and content hash as ``/v1/ocds`` serves, recomputed from the audit log), for the buyer we
published them for: those change nothing; any other is refused whole (422), as it would pass
as ours.

Writes are batched: whatever the number of releases and processes, a document costs a dozen
round trips (each table's inserts and updates are one ``executemany`` each), and a few more
for each of our own processes it holds (to recompute what we published of it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from procure_contracts.contracts import store as contract_store
from procure_contracts.contracts.rules import Contract
from procure_contracts.kpis import store as kpi_store
from procure_contracts.kpis.observations import observed, observed_data
from procure_contracts.kpis.rules import Kpi, Observation, kpi_data, rating_data, unrated
from procure_contracts.milestones import store as milestone_store
from procure_contracts.milestones.rules import Milestone
from procure_contracts.ocds import imported_events as data
from procure_contracts.ocds import releases
from procure_contracts.ocds import store as published
from procure_contracts.ocds.exporting import Publication
from procure_contracts.ocds.mapping_in import Mapped, map_process, suppliers_of
from procure_contracts.ocds.mapping_out import ocid_of, releases_of, standstill_ends
from procure_contracts.ocds.merge import Compiler
from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.ocds.suppliers import ProviderRegistry, of_process, resolve
from procure_contracts.tenders import store as tender_store
from procure_contracts.tenders.awards_rules import Award
from procure_contracts.tenders.rules import Lot, Tender
from procure_contracts.usecases.context import Who
from procure_shared.db.changes import Change, publish_all
from procure_shared.db.documents import Documents, as_uuid
from procure_shared.db.postgres import Connection
from procure_shared.errors import RuleBroken
from procure_shared.events import EventSpec
from procure_shared.events import registry as events
from procure_shared.ocds.shapes import releases_in, shape_of

__all__ = ["ImportReport", "Ocds", "import_document"]

MAX_ERRORS = 100  # schema errors listed (all are counted)
MAX_PROBLEMS = 1000


@dataclass(frozen=True, slots=True)
class Ocds:
    """The OCDS schema (with our extensions) and the merge rules it implies."""

    schemas: OcdsSchemas
    compiler: Compiler


class SchemaErrorOut(msgspec.Struct, frozen=True):
    where: str  # the release's place in the document (a JSON pointer)
    path: str  # the field's place in the release
    message: str


class Unplaced(msgspec.Struct, frozen=True):
    path: str
    count: int


class ProcessOut(msgspec.Struct, frozen=True, rename="camel"):
    ocid: str
    tender_id: str


class ImportReport(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    source: str
    releases_read: int  # releases and compiled releases found (each validated)
    imported: int  # releases newly stored
    # releases already stored, ours as we published them, or not importable: nothing changed
    # for them
    skipped: int
    schema_errors: int
    errors: list[SchemaErrorOut]
    unplaced: list[Unplaced]
    problems: list[str]
    processes: list[ProcessOut]


def _text(value: Any) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _order(release: Mapping[str, Any]) -> tuple[bool, datetime, str]:
    """The order ``ocds_releases`` reads a process's releases in: by date, undated first."""
    when = _date(release.get("date"))
    return (when is not None, when or _EPOCH, str(release.get("id")))


_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _candidates(found: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The releases to store: every release, and the compiled release of a record whose
    releases are only linked (it stands for them)."""
    embedded = {where.rsplit("/releases/", 1)[0] for where, _ in found if "/releases/" in where}
    embedded |= {"" for where, _ in found if where.startswith("/releases/")}
    return [
        (where, release)
        for where, release in found
        if not where.endswith("compiledRelease")
        or where.removesuffix("/compiledRelease") not in embedded
    ]


def _compile(ocds: Ocds, ocid: str, stored: list[dict[str, Any]], problems: list[str]) -> Any:
    dated = [r if isinstance(r.get("date"), str) else {**r, "date": ""} for r in stored]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            compiled = ocds.compiler.compile(dated)
        except Exception as exc:  # the reference implementation's refusals
            problems.append(f"{ocid}: its releases cannot be merged: {exc}")
            return None
    problems.extend(f"{ocid}: {w.message}" for w in caught)
    return compiled


async def _repeated(
    conn: Connection, rows: Sequence[releases.ReleaseRow], kept: Sequence[tuple[str, Any]]
) -> list[str]:
    """A problem line for each release whose ocid and id an earlier one (in this document, or
    stored) has with other content: the first stays, the later one is not applied."""
    found: list[str] = []
    earlier = await releases.stored(conn, list({(r.ocid, r.release_id) for r in rows}))
    first: dict[tuple[str, str], tuple[str, Any]] = {}
    for row, (where, release) in zip(rows, kept, strict=True):
        key = (row.ocid, row.release_id)
        if key in earlier:
            if earlier[key].doc != release:
                found.append(
                    f"{row.ocid}: release {row.release_id} at {where or '/'} differs from "
                    f"release {row.release_id} already imported (from {earlier[key].source}): "
                    "it is not applied"
                )
        elif key in first:
            if first[key][1] != release:
                found.append(
                    f"{row.ocid}: release {row.release_id} at {where or '/'} differs from "
                    f"release {row.release_id} at {first[key][0] or '/'}: it is not applied"
                )
        else:
            first[key] = (where, release)
    return found


_number_encoder = msgspec.json.Encoder(decimal_format="number")  # as /v1/ocds serves them


def _canonical(value: Any) -> Any:
    """``value`` as its JSON reads, whatever wrote it: keys in any order, an amount written
    ``100``, ``100.0`` or ``100.00`` alike."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def content_hash(release: Any) -> str:
    """The SHA-256 of a release's content as JSON (canonical: sorted keys, numbers as read)."""
    read = msgspec.json.decode(_number_encoder.encode(release))
    text = json.dumps(_canonical(read), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def _published(
    conn: Connection, tender: Tender, publication: Publication, now: datetime
) -> dict[str, str]:
    """The hash of each release this service publishes of its own process ``tender`` (what
    ``/v1/ocds/releases`` and ``/v1/ocds/records`` serve), by release id."""
    prefix = publication.ocid_prefix
    ocid = ocid_of(tender, prefix)
    changes = await published.process_changes(conn, tender.id)
    links = dataclasses.replace(
        await published.links_for(conn, changes), buyer_names=publication.buyer_names
    )
    served = [r for c in changes for o, r in releases_of(c, links, prefix) if o == ocid]
    awards = [a for a in links.awards.values() if a.tender_id == tender.id]
    served += standstill_ends(ocid, awards, links, now)
    return {str(r["id"]): content_hash(r) for r in served}


def _our_id(ocid: str, release_id: str) -> bool:
    """Whether ``release_id`` has the form of the ids we give a process's releases (the ocid,
    then an audit row's number, or the end of an award's standstill)."""
    rest = release_id.removeprefix(f"{ocid}-")
    return rest != release_id and (rest.isdigit() or rest.startswith("standstill-"))


async def _own(
    conn: Connection,
    rows: Sequence[releases.ReleaseRow],
    kept: Sequence[tuple[str, Any]],
    *,
    buyer_id: str,
    publication: Publication,
    now: datetime,
) -> set[tuple[str, str]]:
    """The (ocid, release id) of the releases this service published itself, unchanged: one
    of our processes (under our ocid prefix, or one imported for the buyer, under its
    publisher's ocid), one of its release ids, and that release's content. Another release
    under our prefix, or ours for another buyer, is refused (422) naming it: it would pass as
    ours. Other releases of an imported process are its publisher's: imported as ever."""
    prefix = f"{publication.ocid_prefix}-"
    found: dict[str, list[tuple[releases.ReleaseRow, str]]] = {}
    for row, (where, _) in zip(rows, kept, strict=True):
        found.setdefault(row.ocid, []).append((row, where))
    own: set[tuple[str, str]] = set()
    # An imported process's releases we may have published (by their ids' form), for the buyer.
    maybe = [
        o
        for o, in_process in found.items()
        if not o.startswith(prefix) and any(_our_id(o, r.release_id) for r, _ in in_process)
    ]
    for ocid, imported in (await releases.imported_tenders(conn, maybe)).items():
        for process in imported:
            if process.buyer_id != buyer_id:
                continue  # another buyer's process: its releases stay there (the owners' rule)
            hashes = await _published(conn, process, publication, now)
            for row, _ in found[ocid]:
                if hashes.get(row.release_id) == content_hash(msgspec.json.decode(row.doc)):
                    own.add((row.ocid, row.release_id))
    refused: list[tuple[str, str]] = []  # (where in the document, why)
    named: list[str] = []  # the ocids refused
    for ocid, in_process in found.items():
        if not ocid.startswith(prefix):
            continue
        tender_id = ocid.removeprefix(prefix)
        tender = (
            await tender_store.tenders.get(conn, tender_id, buyer=None)
            if as_uuid(tender_id) is not None
            else None
        )
        first = in_process[0][1] or "/"
        count = len(refused)
        if tender is None or tender.imported is not None or ocid != f"{prefix}{tender.id}":
            refused.append(
                (
                    first,
                    f"{ocid} has this service's ocid prefix ({publication.ocid_prefix}) but is "
                    "no process published here",
                )
            )
            named.append(ocid)
            continue
        if tender.buyer_id != buyer_id:
            refused.append(
                (
                    first,
                    f"{ocid} was published here for buyer {tender.buyer_id}: it cannot be "
                    f"imported for {buyer_id}",
                )
            )
            named.append(ocid)
            continue
        hashes = await _published(conn, tender, publication, now)
        for row, where in in_process:
            if hashes.get(row.release_id) == content_hash(msgspec.json.decode(row.doc)):
                own.add((row.ocid, row.release_id))
            else:
                refused.append(
                    (
                        where or "/",
                        f"{ocid}: release {row.release_id} has this service's ocid prefix but "
                        "is not a release published here (its content differs)",
                    )
                )
        if len(refused) > count:
            named.append(ocid)
    if refused:
        raise RuleBroken(
            f"{', '.join(named[:10])}{' ...' if len(named) > 10 else ''}: releases under this "
            f"service's ocid prefix ({publication.ocid_prefix}) are only imported back as "
            "published, into the buyer they were published for; nothing was imported",
            errors=refused[:MAX_ERRORS],
        )
    return own


S = TypeVar("S", Tender, Lot, Award, Contract, Milestone)


def _settle(new: S, old: S | None, now: datetime) -> S | None:
    """What to store of ``new`` over ``old``: ``new`` itself if there was nothing, the next
    version if it differs in a fact (not in its version, times, or the import's source and
    time), else nothing."""
    if old is None:
        return new
    if isinstance(new, Milestone) and isinstance(old, Milestone):
        new = msgspec.structs.replace(new, notices=old.notices)
    mark = new.imported
    if mark is not None and old.imported is not None:
        mark = msgspec.structs.replace(mark, source=old.imported.source, at=old.imported.at)
    same = msgspec.structs.replace(
        new,
        version=old.version,
        created_at=old.created_at,
        updated_at=old.updated_at,
        imported=mark,
    )
    if same == old:
        return None
    return msgspec.structs.replace(
        new, version=old.version + 1, created_at=old.created_at, updated_at=now
    )


class _Writer:
    def __init__(self, conn: Connection, who: Who, now: datetime) -> None:
        self.conn = conn
        self.who = who
        self.now = now
        self.changes: list[Change] = []

    async def upsert(
        self,
        table: Documents[S],
        items: Sequence[S],
        resource_type: str,
        event: EventSpec,
        data_of: Callable[[S], Any],
    ) -> None:
        unique = list({item.id: item for item in items}.values())
        existing = {
            old.id: old
            for old in await table.many(self.conn, [i.id for i in unique], for_update=True)
        }
        inserts: list[S] = []
        updates: list[S] = []
        for item in unique:
            before = existing.get(item.id)
            after = _settle(item, before, self.now)
            if after is None:
                continue
            (updates if before is not None else inserts).append(after)
            self.changes.append(
                Change(
                    actor=self.who.actor,
                    at=self.now,
                    event=event,
                    subject=after.id,
                    sequence=after.version,
                    data=data_of(after),
                    resource_type=resource_type,
                    before=before,
                    after=after,
                    buyer_id=after.buyer_id,
                )
            )
        await table.insert_many(self.conn, inserts)
        await table.save_locked(self.conn, updates)


async def _write(conn: Connection, who: Who, now: datetime, mapped: Sequence[Mapped]) -> None:
    w = _Writer(conn, who, now)
    lot_ids: dict[str, list[str]] = {}
    for m in mapped:
        lot_ids[m.tender.id] = [lot.id for lot in m.lots]
    award_ids: dict[str, list[str]] = {}
    for m in mapped:
        for a in m.awards:
            award_ids.setdefault(a.lot_id, []).append(a.id)
    providers = {c.id: c.provider_ids for m in mapped for c in m.contracts}
    await w.upsert(
        tender_store.tenders,
        [m.tender for m in mapped],
        "tender",
        events.TENDER_IMPORTED,
        lambda t: data.tender_imported(t, lot_ids.get(t.id, [])),
    )
    await w.upsert(
        tender_store.lots,
        [lot for m in mapped for lot in m.lots],
        "lot",
        events.LOT_IMPORTED,
        lambda lot: data.lot_imported(lot, award_ids.get(lot.id, [])),
    )
    await w.upsert(
        tender_store.awards,
        [a for m in mapped for a in m.awards],
        "award",
        events.AWARD_IMPORTED,
        data.award_imported,
    )
    await w.upsert(
        contract_store.contracts,
        [c for m in mapped for c in m.contracts],
        "contract",
        events.CONTRACT_IMPORTED,
        data.contract_imported,
    )
    await w.upsert(
        milestone_store.milestones,
        [ms for m in mapped for ms in m.milestones],
        "milestone",
        events.MILESTONE_IMPORTED,
        lambda ms: data.milestone_imported(ms, providers.get(ms.contract_id, [])),
    )
    await _kpis(w, mapped, providers)
    await contract_store.link_awards(conn, [link for m in mapped for link in m.links])
    await publish_all(conn, w.changes)


# What a KPI's definition is (an import changes it as KPI_UPDATED says).
_DEFINITION = (
    "name",
    "description",
    "unit",
    "direction",
    "target",
    "thresholds",
    "dimension",
    "combine",
    "frequency",
)


async def _kpis(w: _Writer, mapped: Sequence[Mapped], providers: Mapping[str, list[str]]) -> None:
    """The metrics' KPIs as the API makes them, each step audited: defined (or its definition
    updated), each observation not stored yet recorded (numbered after the stored ones), then
    rated (a version of its own when the rating moves)."""
    kpis = list({k.id: k for m in mapped for k in m.kpis}.values())
    seen: dict[str, list[Observation]] = {}
    for m in mapped:
        for o in m.observations:
            seen.setdefault(o.kpi_id, []).append(o)
    ids_of = [k.id for k in kpis]
    existing = {k.id: k for k in await kpi_store.kpis.many(w.conn, ids_of, for_update=True)}
    stored = await releases.observations_of(w.conn, ids_of)
    inserts: list[Kpi] = []
    updates: list[Kpi] = []
    new_observations: list[Observation] = []

    def step(event: EventSpec, before: Kpi | None, after: Kpi, data: Any) -> None:
        w.changes.append(
            Change(
                actor=w.who.actor,
                at=w.now,
                event=event,
                subject=after.id,
                sequence=after.version,
                data=data,
                resource_type="kpi",
                before=before,
                after=after,
                buyer_id=after.buyer_id,
            )
        )

    for kpi in kpis:
        on = providers.get(kpi.contract_id, [])
        old = existing.get(kpi.id)
        ids, last = stored.get(kpi.id, (set(), 0))
        if old is None:
            current = msgspec.structs.replace(
                kpi, observation_count=0, last_observation=None, rating=unrated(kpi.target)
            )
            step(events.KPI_DEFINED, None, current, kpi_data(current, on))
        else:
            current = old
            changed = [f for f in _DEFINITION if getattr(kpi, f) != getattr(old, f)]
            if changed:
                current = msgspec.structs.replace(
                    old,
                    **{f: getattr(kpi, f) for f in changed},
                    version=old.version + 1,
                    updated_at=w.now,
                )
                step(events.KPI_UPDATED, old, current, kpi_data(current, on, changed=changed))
        for o in seen.get(kpi.id, []):
            if o.id in ids:
                continue
            last += 1
            ids.add(o.id)
            numbered = msgspec.structs.replace(o, number=last)
            new_observations.append(numbered)
            before, current = current, observed(current, numbered, now=w.now)
            step(events.KPI_OBSERVED, before, current, observed_data(numbered, current, on))
        if kpi.rating != current.rating:
            previous, before = current.rating.rating, current
            current = msgspec.structs.replace(
                current,
                rating=kpi.rating,
                rated_at=w.now,
                version=current.version + 1,
                updated_at=w.now,
            )
            if kpi.rating.period_end is not None:
                data: Any = rating_data(current, previous, on)
                step(events.KPI_RATING_CHANGED, before, current, data)
            else:  # back to no rating: nothing observed
                step(events.KPI_UPDATED, before, current, kpi_data(current, on, changed=["rating"]))
        if old is None:
            inserts.append(current)
        elif current is not old:
            updates.append(current)
    await kpi_store.kpis.insert_many(w.conn, inserts)
    await kpi_store.observations.insert_many(w.conn, new_observations)
    await kpi_store.kpis.save_locked(w.conn, updates)


async def import_document(
    conn: Connection,
    document: Any,
    *,
    buyer_id: str,
    source: str,
    ocds: Ocds,
    registry: ProviderRegistry,
    who: Who,
    now: datetime,
    publication: Publication,
) -> ImportReport:
    """Import ``document`` for ``buyer_id``; 422 (``RuleBroken``) if it is no OCDS shape, or
    if it holds releases under our ocid prefix that are not ours as published for that buyer
    (``publication`` says how we publish)."""
    if shape_of(document) is None:
        raise RuleBroken(
            "the body is no OCDS document: expected a release package, a record package, a "
            "record or a release (an object with `releases`, `records`, `compiledRelease` or "
            "`ocid`)"
        )
    if not buyer_id.strip():
        raise RuleBroken("name the buyer the import is for", "buyer")
    found = list(releases_in(document))
    problems: list[str] = []
    errors: list[SchemaErrorOut] = []
    count = 0
    for where, release in found:
        for e in ocds.schemas.release_errors(release):
            count += 1
            if len(errors) < MAX_ERRORS:
                errors.append(SchemaErrorOut(where=where, path=e.path, message=e.message))
    rows: list[releases.ReleaseRow] = []
    kept: list[tuple[str, Any]] = []
    for where, release in _candidates(found):
        ocid = _text(release.get("ocid")) if isinstance(release, Mapping) else None
        rid = _text(release.get("id")) if isinstance(release, Mapping) else None
        if ocid is None or rid is None:
            problems.append(
                f"the release at {where or '/'} has no {'ocid' if ocid is None else 'id'}: "
                "it cannot be imported"
            )
            continue
        rows.append(
            releases.ReleaseRow(
                ocid=ocid, release_id=rid, date=_date(release.get("date")), doc=_encode(release)
            )
        )
        kept.append((where, release))
    # Ours, as published: nothing to import (they count as skipped).
    own = await _own(conn, rows, kept, buyer_id=buyer_id, publication=publication, now=now)
    theirs = [(r, k) for r, k in zip(rows, kept, strict=True) if (r.ocid, r.release_id) not in own]
    rows, kept = [r for r, _ in theirs], [k for _, k in theirs]
    ocids = list(dict.fromkeys(r.ocid for r in rows))
    await releases.lock_processes(conn, ocids)
    problems.extend(await _repeated(conn, rows, kept))
    owners = await releases.owners(conn, ocids)
    foreign = {o for o, b in owners.items() if b != buyer_id}
    for ocid in foreign:
        problems.append(
            f"{ocid} was imported for buyer {owners[ocid]}: its releases stay there, not imported"
        )
    mine = [r for r in rows if r.ocid not in foreign]
    stored = await releases.store(conn, mine, buyer_id=buyer_id, source=source, at=now)
    # A process seen before is compiled from all its stored releases; a new one from this
    # document's (what was just stored: the first of each id, in the order the table reads).
    earlier = await releases.processes(conn, [o for o in ocids if o in owners and o not in foreign])
    new: dict[str, dict[str, Any]] = {}
    for row, (_, release) in zip(rows, kept, strict=True):
        if row.ocid not in owners:
            new.setdefault(row.ocid, {}).setdefault(row.release_id, release)
    by_process = {o: p.releases for o, p in earlier.items()} | {
        o: sorted(found.values(), key=_order) for o, found in new.items()
    }
    compiled: dict[str, Any] = {}
    for ocid in ocids:
        if ocid not in by_process:
            continue
        result = _compile(ocds, ocid, by_process[ocid], problems)
        if isinstance(result, Mapping):
            compiled[ocid] = result
    parties = {ocid: suppliers_of(c) for ocid, c in compiled.items()}
    providers, party_problems = await resolve(
        registry, [p for found_parties in parties.values() for p in found_parties]
    )
    problems.extend(party_problems)
    mapped: list[Mapped] = []
    unplaced: Counter[str] = Counter()
    for ocid, c in compiled.items():
        m = map_process(
            c,
            buyer_id=buyer_id,
            source=source,
            actor=who.actor.id,
            at=now,
            providers=of_process(providers, ocid, [p.key for p in parties[ocid]]),
        )
        mapped.append(m)
        problems.extend(m.problems)
        unplaced.update(m.unplaced)
    await _write(conn, who, now, mapped)
    return ImportReport(
        source=source,
        releases_read=len(found),
        imported=len(stored),
        skipped=len(rows) + len(own) - len(stored),
        schema_errors=count,
        errors=errors,
        unplaced=[Unplaced(path=p, count=n) for p, n in sorted(unplaced.items())],
        problems=problems[:MAX_PROBLEMS],
        processes=[
            ProcessOut(ocid=m.tender.imported.ocid, tender_id=m.tender.id)
            for m in mapped
            if m.tender.imported
        ],
    )


_encoder = msgspec.json.Encoder()


def _encode(release: Any) -> bytes:
    return _encoder.encode(release)
