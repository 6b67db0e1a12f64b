"""The OCDS 1.1.5 release schema, with extensions applied, from local files (never fetched).

The release schema and the extensions' release schemas sit in a folder laid out as OCDS
publishes them: ``1.1.5/`` and ``extensions/<name>/``. An extension is a JSON Merge Patch
(RFC 7386) onto the release schema. The release schema's references are all within it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft4Validator

__all__ = ["EXTENSIONS", "OcdsSchemas", "SchemaError", "merge_patch"]

VERSION = "1.1.5"
# The extensions our releases use: lots (tender.lots, relatedLots) and metrics (KPIs).
EXTENSIONS = ("lots/release-schema-v1.1.5.json", "metrics/release-schema.json")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: ``patch`` applied to ``target`` (neither is changed)."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


@dataclass(frozen=True, slots=True)
class SchemaError:
    """Where a document breaks the schema (a JSON pointer) and how."""

    path: str
    message: str


def _pointer(parts: Sequence[object]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class OcdsSchemas:
    def __init__(self, folder: Path, extensions: Sequence[str] = EXTENSIONS) -> None:
        base = folder / VERSION
        if not (base / "release-schema.json").is_file():
            raise FileNotFoundError(
                f"no OCDS {VERSION} schemas under {folder} (expected {base}/release-schema.json)"
            )
        release = _read(base / "release-schema.json")
        for name in extensions:
            release = merge_patch(release, _read(folder / "extensions" / name))
        self.release_schema: dict[str, Any] = release
        self.extensions = tuple(extensions)
        self._release = Draft4Validator(release)
        # The same schema compiled by jsonschema-rs: tens of times faster at saying whether a
        # release is valid, which most are. Only an invalid one is walked by the Python
        # validator, whose errors (one per broken keyword) are the counts the data README
        # records.
        self._fast = jsonschema_rs.Draft4Validator(release, validate_formats=False, offline=True)

    def __deepcopy__(self, memo: dict[int, Any]) -> OcdsSchemas:
        # Never changed once built, and its compiled validator cannot be copied: Litestar
        # deep-copies route options, so a copy is this same object.
        return self

    def release_errors(self, release: Any) -> list[SchemaError]:
        """Each way ``release`` breaks the release schema (formats are not checked)."""
        if self._fast.is_valid(release):
            return []
        return self.slow_release_errors(release)

    def slow_release_errors(self, release: Any) -> list[SchemaError]:
        """``release_errors`` by the Python validator alone (what the fast path must agree
        with)."""
        return [_error(e) for e in self._release.iter_errors(release)]


def _error(error: Any) -> SchemaError:
    return SchemaError(path=_pointer(list(error.absolute_path)), message=str(error.message))


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as file:
        return json.load(file)
