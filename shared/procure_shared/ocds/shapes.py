"""The shapes OCDS documents come in, as found in the wild: a release package, a record
package, a bare record (``releases`` and a ``compiledRelease``) or a bare release. Each yields
its releases and compiled releases, with where they are in the document; linked releases (a
record package's ``{url, date, tag}`` references) are not releases and are left out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

__all__ = ["Shape", "releases_in", "shape_of"]


class Shape(StrEnum):
    RELEASE_PACKAGE = "release package"
    RECORD_PACKAGE = "record package"
    RECORD = "record"
    RELEASE = "release"


def shape_of(document: Any) -> Shape | None:
    if not isinstance(document, Mapping):
        return None
    if isinstance(document.get("records"), list):
        return Shape.RECORD_PACKAGE
    if "compiledRelease" in document or "versionedRelease" in document:
        return Shape.RECORD
    if isinstance(document.get("releases"), list):
        return Shape.RELEASE_PACKAGE
    if "ocid" in document:
        return Shape.RELEASE
    return None


def _linked(release: Any) -> bool:
    """A linked release: only a reference to one published elsewhere."""
    return isinstance(release, Mapping) and "url" in release and "ocid" not in release


def _record(record: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    for i, release in enumerate(record.get("releases") or []):
        if not _linked(release):
            yield f"{where}/releases/{i}", release
    if "compiledRelease" in record:
        yield f"{where}/compiledRelease", record["compiledRelease"]


def releases_in(document: Any) -> Iterator[tuple[str, Any]]:
    """(JSON pointer, release) for each release and compiled release of ``document``."""
    shape = shape_of(document)
    if shape is Shape.RELEASE:
        yield "", document
    elif shape is Shape.RELEASE_PACKAGE:
        for i, release in enumerate(document["releases"]):
            if not _linked(release):
                yield f"/releases/{i}", release
    elif shape is Shape.RECORD:
        yield from _record(document, "")
    elif shape is Shape.RECORD_PACKAGE:
        for i, record in enumerate(document["records"]):
            if isinstance(record, Mapping):
                yield from _record(record, f"/records/{i}")
