"""Named SQL queries kept in ``.sql`` files: ``-- name: claim_batch`` starts a query."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["NamedQueries", "load_queries"]

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class NamedQueries:
    """The queries of one .sql file, each by its name (``Q.claim``). Not to be confused with
    ``procure_shared.db.postgres.Queries``: what a query runs on (a connection or the pool)."""

    def __init__(self, source: str, origin: str) -> None:
        self._queries: dict[str, str] = {}
        parts = _NAME.split(source)
        # parts: [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            text = body.strip()
            if not text:
                raise ValueError(f"{origin}: query {name!r} is empty")
            if name in self._queries:
                raise ValueError(f"{origin}: query {name!r} is defined twice")
            self._queries[name] = text
        self._origin = origin

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"{self._origin} has no query {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._queries)


def load_queries(path: Path) -> NamedQueries:
    return NamedQueries(path.read_text(encoding="utf-8"), str(path))
