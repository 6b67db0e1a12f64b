"""OCDS files in and out of the contracts service, through its HTTP API (``procure ocds``).

Import: each file is read by ``reader.OcdsFile`` (constant memory) and sent in batches to
``POST /v1/ocds/import?buyer=&source=``: releases as release packages, records as record
packages (a record travels whole, with its releases and compiled release), each batch with the
file's package metadata, up to ``batch`` releases or ``max_bytes`` of JSON. Several batches are
in flight at once, but a batch waits for every earlier batch that holds a release of one of its
processes (ocids): a process's releases reach the service in file order. The service's answer to
each batch is summed into the file's ``QualityReport``; the places of schema errors, which the
service gives within the batch, are put back as places in the file.

Export: ``GET /v1/ocds/releases`` page by page (following ``links.next``, or a 204's ``Link``
for a page with no release, until the next page is the one just read), each page written as it
came (``releases-00001.json``, ...), then ``GET /v1/ocds/records/{ocid}`` for each process met,
into ``records/<ocid>.json``.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from procure_shared.replies import problem_line
from procure_tools.ocds.reader import ENCODE, JSON_LINES, OcdsFile, Unit

__all__ = [
    "BATCH",
    "MAX_BYTES",
    "ExportSummary",
    "QualityReport",
    "RequestFailed",
    "export_ocds",
    "import_file",
    "ocds_files",
]

BATCH = 500  # releases a request
MAX_BYTES = 8 * 1024 * 1024  # JSON a request (the service takes up to 64 MiB)
IN_FLIGHT = 4
LISTED = 1000  # schema errors kept in a file's report (all are counted)
PAGE = 1000  # releases a page of the export (the service's most)


class RequestFailed(Exception):
    """The service refused a request, or did not answer: the import (or export) stops."""

    def __init__(self, what: str, status: int | None, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.status = status
        self.detail = detail


def ocds_files(paths: list[Path]) -> list[Path]:
    """The files named, a folder standing for its *.json and JSON Lines files, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.is_file() and (p.suffix == ".json" or p.suffix in JSON_LINES)
            )
        else:
            found.append(path)
    return found


@dataclass(slots=True)
class QualityReport:
    """What the service said of one file's batches, summed; schema errors placed in the file."""

    file: str
    source: str
    shape: str | None = None
    batches: int = 0
    bytes_read: int = 0
    releases_read: int = 0
    imported: int = 0
    skipped: int = 0
    schema_errors: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    unplaced: Counter[str] = field(default_factory=Counter)
    problems: dict[str, None] = field(default_factory=dict)  # in order, once each
    processes: dict[str, str] = field(default_factory=dict)  # ocid -> tender id
    seconds: float = 0.0

    def add(self, answer: Mapping[str, Any], places: Callable[[str], str]) -> None:
        self.batches += 1
        self.releases_read += int(answer.get("releasesRead", 0))
        self.imported += int(answer.get("imported", 0))
        self.skipped += int(answer.get("skipped", 0))
        self.schema_errors += int(answer.get("schemaErrors", 0))
        for error in (answer.get("errors") or [])[: max(0, LISTED - len(self.errors))]:
            self.errors.append(
                {
                    "where": places(str(error.get("where", ""))),
                    "path": str(error.get("path", "")),
                    "message": str(error.get("message", "")),
                }
            )
        for unplaced in answer.get("unplaced") or []:
            self.unplaced[str(unplaced.get("path"))] += int(unplaced.get("count", 0))
        for problem in answer.get("problems") or []:
            self.problems.setdefault(str(problem), None)
        for process in answer.get("processes") or []:
            self.processes[str(process.get("ocid"))] = str(process.get("tenderId"))

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "source": self.source,
            "shape": self.shape,
            "batches": self.batches,
            "bytesRead": self.bytes_read,
            "seconds": round(self.seconds, 3),
            "releasesRead": self.releases_read,
            "imported": self.imported,
            "skipped": self.skipped,
            "schemaErrors": self.schema_errors,
            # The service lists up to 100 a batch, this report up to LISTED; all are counted.
            "errors": self.errors,
            "unplaced": [{"path": p, "count": c} for p, c in sorted(self.unplaced.items())],
            "problems": list(self.problems),
            "processes": [{"ocid": o, "tenderId": t} for o, t in self.processes.items()],
        }


# --- import ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    record: bool
    units: list[tuple[str, bytes]] = field(default_factory=list)  # (place in the file, JSON)
    ocids: set[str] = field(default_factory=set)
    releases: int = 0
    size: int = 0

    def body(self, metadata: bytes) -> bytes:
        key = b'"records":[' if self.record else b'"releases":['
        return b"{" + metadata + key + b",".join(u for _, u in self.units) + b"]}"

    def places(self) -> Callable[[str], str]:
        """A place in the batch sent (``/releases/3/...``) as the place in the file."""
        array = "/records/" if self.record else "/releases/"

        def place(where: str) -> str:
            match = re.match(rf"^{array}(\d+)(.*)$", where)
            if match is None or int(match[1]) >= len(self.units):
                return where
            return self.units[int(match[1])][0] + match[2]

        return place


def _metadata(file: OcdsFile) -> bytes:
    """The package's members for each batch (all but ``releases``/``records``), as JSON
    members followed by a comma, or nothing."""
    if not file.metadata:
        return b""
    return ENCODE(file.metadata)[1:-1] + b","


def _batches(file: OcdsFile, batch: int, max_bytes: int) -> Iterator[_Batch]:
    """Batches of units in file order. A full batch is not cut inside a run of one process's
    releases (up to twice the size): the next batch would have to wait for it."""
    current: _Batch | None = None
    previous: set[str] = set()
    for unit in file.units():
        encoded = ENCODE(unit.document)
        ocids = _ocids(unit)
        if current is not None:
            full = (
                current.releases + len(unit.releases) > batch
                or current.size + len(encoded) > max_bytes
            )
            overfull = (
                current.releases + len(unit.releases) > 2 * batch
                or current.size + len(encoded) > 2 * max_bytes
            )
            same_process = bool(ocids & previous)
            if current.record != unit.record or overfull or (full and not same_process):
                yield current
                current = None
        if current is None:
            current = _Batch(record=unit.record)
        current.units.append((unit.pointer, encoded))
        current.ocids |= ocids
        current.releases += len(unit.releases)
        current.size += len(encoded) + 1
        previous = ocids
    if current is not None:
        yield current


def _ocids(unit: Unit) -> set[str]:
    found = {unit.document.get("ocid")} | {r.get("ocid") for _, r in unit.releases if r}
    return {str(o) for o in found if o is not None}


async def import_file(
    client: httpx.AsyncClient,
    path: Path,
    *,
    buyer: str,
    source: str | None = None,
    batch: int = BATCH,
    max_bytes: int = MAX_BYTES,
    in_flight: int = IN_FLIGHT,
    on_progress: Callable[[OcdsFile, QualityReport], None] | None = None,
) -> QualityReport:
    """Import the file at ``path`` through ``client`` (based at the contracts service, with the
    token). Raises ``RequestFailed`` at the first request that fails (the batches still in flight
    are finished first); importing the file again is safe (a release is stored once)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    file = OcdsFile(path)
    report = QualityReport(file=str(path), source=source or path.name)
    slots = asyncio.Semaphore(in_flight)
    last: dict[str, asyncio.Task[None]] = {}  # ocid -> the latest batch that holds it
    tasks: set[asyncio.Task[None]] = set()
    failures: list[RequestFailed] = []

    async def send(number: int, b: _Batch, body: bytes, after: set[asyncio.Task[None]]) -> None:
        try:
            if after:
                await asyncio.wait(after)
            if failures:
                return
            try:
                answer = await client.post(
                    "/v1/ocds/import",
                    params={"buyer": buyer, "source": report.source},
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
            except httpx.HTTPError as exc:
                failures.append(RequestFailed(f"batch {number}", None, f"no answer ({exc!r})"))
                return
            if answer.status_code != 200:
                failures.append(
                    RequestFailed(
                        f"batch {number}",
                        answer.status_code,
                        problem_line(answer, with_status=True),
                    )
                )
                return
            report.add(msgspec.json.decode(answer.content), b.places())
            if on_progress is not None:
                on_progress(file, report)
        finally:
            slots.release()

    try:
        file.scan()
        report.shape = file.shape.value if file.shape else None
        metadata = _metadata(file)
        for number, b in enumerate(_batches(file, batch, max_bytes), 1):
            await slots.acquire()
            if failures:
                slots.release()
                break
            after = {last[o] for o in b.ocids if o in last and not last[o].done()}
            task = asyncio.create_task(send(number, b, b.body(metadata), after))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            for ocid in b.ocids:
                last[ocid] = task
            # Forget finished batches' ocids now and then, so memory stays flat.
            if len(last) > 10_000:
                last = {o: t for o, t in last.items() if not t.done()}
            report.bytes_read = file.position
            if on_progress is not None:
                on_progress(file, report)
        if tasks:
            await asyncio.wait(set(tasks))
    finally:
        for task in tasks:
            task.cancel()
    report.bytes_read = file.position
    report.seconds = loop.time() - began
    if failures:
        raise failures[0]
    return report


# --- export ------------------------------------------------------------------------------------


class _Release(msgspec.Struct):
    ocid: str | None = None


class _Page(msgspec.Struct):
    releases: list[_Release] = []
    links: dict[str, str] = {}


@dataclass(slots=True)
class ExportSummary:
    pages: int = 0
    releases: int = 0
    records: int = 0
    files: list[Path] = field(default_factory=list)


def record_file(out: Path, ocid: str) -> Path:
    """Where the record of ``ocid`` is written: ``records/<ocid>.json`` (a ``/`` or other
    character a file name cannot hold is %-escaped)."""
    return out / "records" / f"{quote(ocid, safe='-_.')}.json"


async def _answer(
    client: httpx.AsyncClient, url: str, what: str, ok: tuple[int, ...], **params: str
) -> httpx.Response:
    try:
        answer = await client.get(url, params=params or None)
    except httpx.HTTPError as exc:
        raise RequestFailed(what, None, f"no answer ({exc!r})") from None
    if answer.status_code not in ok:
        raise RequestFailed(what, answer.status_code, problem_line(answer, with_status=True))
    return answer


async def _get(client: httpx.AsyncClient, url: str, what: str, **params: str) -> bytes:
    return (await _answer(client, url, what, (200,), **params)).content


def _cursor(url: httpx.URL) -> str | None:
    cursor: str | None = url.params.get("cursor")
    return cursor


async def export_ocds(
    client: httpx.AsyncClient,
    out: Path,
    *,
    since: str | None = None,
    page_size: int = PAGE,
    in_flight: int = IN_FLIGHT,
    on_page: Callable[[ExportSummary], None] | None = None,
    on_record: Callable[[ExportSummary, int], None] | None = None,
) -> ExportSummary:
    """Write every release the service publishes (since ``since``) and every process's record
    into ``out``. Raises ``RequestFailed`` if a request fails."""
    await asyncio.to_thread((out / "records").mkdir, parents=True, exist_ok=True)
    summary = ExportSummary()
    ocids: dict[str, None] = {}
    params = {"limit": str(page_size)} | ({"since": since} if since else {})
    url: str | None = "/v1/ocds/releases"
    while url is not None:
        what = f"page {summary.pages + 1}"
        answer = await _answer(client, url, what, (200, 204), **params)
        params = {}  # the next link carries them
        if answer.status_code == 204:  # no release on this page: the next, unless it is this
            following = answer.links.get("next", {}).get("url")
            if following is None or _cursor(httpx.URL(following)) == _cursor(answer.url):
                break
            url = following
            continue
        body = answer.content
        page = msgspec.json.decode(body, type=_Page)
        if not page.releases:
            break
        summary.pages += 1
        summary.releases += len(page.releases)
        target = out / f"releases-{summary.pages:05d}.json"
        await asyncio.to_thread(target.write_bytes, body)
        summary.files.append(target)
        for release in page.releases:
            if release.ocid:
                ocids.setdefault(release.ocid, None)
        url = page.links.get("next")
        if on_page is not None:
            on_page(summary)
    slots = asyncio.Semaphore(in_flight)

    async def record(ocid: str) -> None:
        async with slots:
            body = await _get(client, f"/v1/ocds/records/{quote(ocid, safe='')}", f"record {ocid}")
            target = record_file(out, ocid)
            await asyncio.to_thread(target.write_bytes, body)
            summary.records += 1
            summary.files.append(target)
            if on_record is not None:
                on_record(summary, len(ocids))

    try:
        async with asyncio.TaskGroup() as group:
            for ocid in ocids:
                group.create_task(record(ocid))
    except* RequestFailed as failed:
        raise failed.exceptions[0] from None
    return summary
