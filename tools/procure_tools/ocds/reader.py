"""Read an OCDS file of any shape in constant memory: its releases, one at a time, with where
each is in the file, and the package's metadata.

The shapes (``shapes.py``): a release package (its ``releases``), a record package (each
record's embedded releases and compiled release; linked releases ``{url, date, tag}`` are
references, not releases), a bare record, a bare release; and JSON Lines (``.jsonl``,
``.ndjson``), one such document a line.

A JSON file is read twice with ijson's C parser (yajl2_c), never whole:

1. *scan*: the package's metadata (every top-level member but the ``releases`` or ``records``
   array, wherever it is: before the array, after it, or both) and the shape. The array itself
   is skipped in C (``itertools.dropwhile`` over the parser's events, no Python per event),
   so the metadata is known before the first release is read, even when it comes at the end.
2. *read*: ``ijson.items`` over ``releases.item`` (or ``records.item``): one release (or one
   record) built at a time.

A bare record or release is one process's document, read whole. Numbers stay exact: ijson
gives a ``Decimal`` for each number with a fraction or exponent (an ``int`` otherwise), and
``ENCODE`` (msgspec, decimals as numbers) writes ``7987500.00`` back as ``7987500.00``.

Places are JSON Pointers into the file (``/releases/3``, ``/records/0/compiledRelease``, ``""``
for a bare release), the same, in the same order, as ``shapes.releases_in`` gives for the whole
document. In JSON Lines the file is taken as the array of its lines: the release on line 5 is
``/4``, the second release of the package on line 5 is ``/4/releases/1``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import ijson
import msgspec
from ijson.common import ObjectBuilder

from procure_shared.ocds.shapes import Shape, shape_of

__all__ = ["ENCODE", "JSON_LINES", "OcdsFile", "OcdsFileError", "Unit", "read_releases"]

JSON_LINES = frozenset({".jsonl", ".ndjson", ".jsonlines"})
# Encodes what the reader gives back as JSON, numbers as they were written.
ENCODE = msgspec.json.Encoder(decimal_format="number").encode
_DECODE = msgspec.json.Decoder(float_hook=Decimal).decode
_ARRAYS = {"releases": Shape.RELEASE_PACKAGE, "records": Shape.RECORD_PACKAGE}
_BUFFER = 1 << 16


class OcdsFileError(Exception):
    """The file is not JSON, or not an OCDS release, record or package."""


@dataclass(frozen=True, slots=True)
class Unit:
    """What an importer sends as one piece: a release, or a record with its releases and
    compiled release (so that they travel together)."""

    pointer: str
    record: bool
    document: Mapping[str, Any]
    # (pointer in the file, release) for each release and compiled release it holds.
    releases: tuple[tuple[str, Any], ...] = field(default=())


def _linked(release: Any) -> bool:
    """A linked release: only a reference to one published elsewhere (as ``shapes.py``)."""
    return isinstance(release, Mapping) and "url" in release and "ocid" not in release


def _record(record: Mapping[str, Any], where: str) -> Unit:
    found: list[tuple[str, Any]] = []
    embedded = record.get("releases")
    for i, release in enumerate(embedded if isinstance(embedded, list) else []):
        if not _linked(release):
            found.append((f"{where}/releases/{i}", release))
    if "compiledRelease" in record:
        found.append((f"{where}/compiledRelease", record["compiledRelease"]))
    return Unit(where, True, record, tuple(found))


def _release(release: Mapping[str, Any], where: str) -> Unit:
    return Unit(where, False, release, ((where, release),))


def _units(document: Any, where: str) -> Iterator[Unit]:
    """The units of one whole document (a bare release or record, or a line of JSON Lines)."""
    shape = shape_of(document)
    if shape is Shape.RELEASE:
        yield _release(document, where)
    elif shape is Shape.RECORD:
        yield _record(document, where)
    elif shape is Shape.RELEASE_PACKAGE:
        for i, release in enumerate(document["releases"]):
            if not _linked(release):
                yield _release(release, f"{where}/releases/{i}")
    elif shape is Shape.RECORD_PACKAGE:
        for i, record in enumerate(document["records"]):
            if isinstance(record, Mapping):
                yield _record(record, f"{where}/records/{i}")
    else:
        raise OcdsFileError(f"{where or 'the document'} is not an OCDS release, record or package")


def _metadata(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in _ARRAYS}


class _Counting:
    """A binary file that counts the bytes read from it (for progress)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.position += len(chunk)
        return chunk


class OcdsFile:
    """One OCDS file. ``units()`` (or ``releases()``) reads it; ``metadata`` and ``shape`` are
    known from the first unit on (``scan()`` finds them first)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.lines = path.suffix.lower() in JSON_LINES
        self.shape: Shape | None = None
        # A package's members but its releases or records; for JSON Lines, the first
        # package's. Empty for a bare release or record.
        self.metadata: dict[str, Any] = {}
        self._counter: _Counting | None = None
        self._scanned = False
        self._array: str | None = None

    @property
    def position(self) -> int:
        """Bytes read so far by ``units()``."""
        return self._counter.position if self._counter else 0

    def scan(self) -> None:
        """Find the shape and the package's metadata without building the releases."""
        if self._scanned:
            return
        self._scanned = True
        if self.lines:
            return
        with self.path.open("rb") as file:
            try:
                self._scan(ijson.parse(file, buf_size=_BUFFER))
            except ijson.JSONError as exc:
                raise OcdsFileError(f"not JSON: {exc}") from None

    def _scan(self, events: Iterator[tuple[str, str, Any]]) -> None:
        builder = ObjectBuilder()
        first = True
        for prefix, event, value in events:
            if first and event != "start_map":
                raise OcdsFileError("not an OCDS release, record or package: not a JSON object")
            first = False
            builder.event(event, value)
            if event == "start_array" and prefix in _ARRAYS:
                self._array = prefix
                break
        if self._array is not None:
            end = (self._array, "end_array", None)
            for _, event, value in itertools.dropwhile(end.__ne__, events):
                builder.event(event, value)
        document = builder.value
        if self._array == "records":
            self.shape = Shape.RECORD_PACKAGE
        else:
            self.shape = shape_of(document)
        if self.shape is None:
            raise OcdsFileError("not an OCDS release, record or package")
        if self.shape in (Shape.RELEASE_PACKAGE, Shape.RECORD_PACKAGE):
            self.metadata = _metadata(document)

    def units(self) -> Iterator[Unit]:
        """Each release (or record) in file order."""
        self.scan()
        with self.path.open("rb") as raw:
            self._counter = counter = _Counting(raw)
            try:
                if self.lines:
                    yield from self._lines(counter)
                elif self.shape is Shape.RELEASE_PACKAGE:
                    items = ijson.items(counter, "releases.item", buf_size=_BUFFER)
                    for i, release in enumerate(items):
                        if not _linked(release):
                            yield _release(release, f"/releases/{i}")
                elif self.shape is Shape.RECORD_PACKAGE:
                    items = ijson.items(counter, "records.item", buf_size=_BUFFER)
                    for i, record in enumerate(items):
                        if isinstance(record, Mapping):
                            yield _record(record, f"/records/{i}")
                else:
                    yield from _units(_DECODE(counter.read()), "")
            except (ijson.JSONError, msgspec.DecodeError) as exc:
                raise OcdsFileError(f"not JSON: {exc}") from None

    def _lines(self, counter: _Counting) -> Iterator[Unit]:
        # readline keeps memory to one line; a blank line is skipped but counted.
        for n, line in enumerate(iter(lambda: _readline(counter), b"")):
            if not line.strip():
                continue
            try:
                document = _DECODE(line)
            except msgspec.DecodeError as exc:
                raise OcdsFileError(f"line {n + 1} is not JSON: {exc}") from None
            if self.shape is None:
                self.shape = shape_of(document)
                if self.shape in (Shape.RELEASE_PACKAGE, Shape.RECORD_PACKAGE):
                    self.metadata = _metadata(document)
            yield from _units(document, f"/{n}")

    def releases(self) -> Iterator[tuple[str, Any]]:
        """(JSON pointer, release) for each release and compiled release, in file order."""
        for unit in self.units():
            yield from unit.releases


def _readline(counter: _Counting) -> bytes:
    line = counter.file.readline()
    counter.position += len(line)
    return line


def read_releases(path: Path) -> Iterator[tuple[str, Any]]:
    """(JSON pointer, release) for each release and compiled release in the file at ``path``."""
    return OcdsFile(path).releases()
