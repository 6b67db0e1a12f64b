"""The registry of event types: type name, data schema version and data Struct.

Additive changes only: new fields get defaults. A breaking change is a new version registered
beside the old one, and producers publish both for a while.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Catalogue", "EventSpec", "InvalidEventType"]

# <producer>.<entity>.<verb>, lower case with underscores.
_TYPE_RE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*\.[a-z][a-z_]*$")


class InvalidEventType(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class EventSpec:
    type: str
    version: int
    data: builtins.type[Any]
    summary: str

    @property
    def producer(self) -> str:
        return self.type.split(".", 1)[0]


class Catalogue:
    def __init__(self) -> None:
        self._specs: dict[tuple[str, int], EventSpec] = {}

    def register(self, type: str, data: type[Any], summary: str, version: int = 1) -> EventSpec:
        if not _TYPE_RE.match(type):
            raise InvalidEventType(f"{type!r} is not <producer>.<entity>.<verb>")
        if version < 1:
            raise InvalidEventType(f"{type!r}: versions start at 1")
        key = (type, version)
        if key in self._specs:
            raise InvalidEventType(f"{type!r} version {version} is registered already")
        spec = EventSpec(type=type, version=version, data=data, summary=summary)
        self._specs[key] = spec
        return spec

    def get(self, type: str, version: int) -> EventSpec | None:
        return self._specs.get((type, version))

    def __iter__(self) -> Iterator[EventSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: (s.type, s.version)))

    def __len__(self) -> int:
        return len(self._specs)
