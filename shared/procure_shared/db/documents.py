"""A table of aggregates stored whole as JSON documents, beside the columns that lists filter,
sort and search on. Reads decode the document straight into the domain Struct.

Writes are version-checked: an update applies only to the version the caller loaded (``FOR
UPDATE`` in the same transaction), so a lost update is impossible, not merely unlikely.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

from procure_shared.db.postgres import Connection, Queries

__all__ = ["Documents", "Page", "Raw", "RawPage", "as_uuid"]

S = TypeVar("S", bound=msgspec.Struct)


def as_uuid(text: str) -> uuid.UUID | None:
    """Resource ids are UUIDs: anything else names nothing."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class Page(msgspec.Struct, kw_only=True):
    """Which rows a list wants: ``where`` holds SQL conditions with ``{}`` for each parameter
    (numbered when the statement is built), ``after`` the (created_at, id) of the last row seen."""

    where: list[str] = []
    params: list[Any] = []
    after: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50

    def add(self, condition: str, *values: Any) -> None:
        self.where.append(condition)
        self.params.extend(values)

    def clause(self) -> tuple[str, list[Any]]:
        """`` WHERE ...`` (or nothing) and ``ORDER BY ... LIMIT $n``, newest first, with the
        parameters in their order (the limit last)."""
        where = list(self.where)
        params = list(self.params)
        if self.after is not None:
            where.append("(created_at, id) < ({}, {})")
            params.extend(self.after)
        numbered = iter(range(1, len(params) + 2))
        conditions = " AND ".join(
            w.format(*(f"${next(numbered)}" for _ in range(w.count("{}")))) for w in where
        )
        sql = (
            f"{' WHERE ' + conditions if conditions else ''}"
            f" ORDER BY created_at DESC, id DESC LIMIT ${next(numbered)}"
        )
        return sql, [*params, self.limit]


class Raw(msgspec.Struct, frozen=True):
    doc: str
    version: int


class RawPage(msgspec.Struct, frozen=True):
    items: str  # a JSON array
    last: tuple[datetime, uuid.UUID] | None  # the sort key of a full page's last item


class Documents(Generic[S]):
    def __init__(
        self, table: str, kind: type[S], columns: Callable[[S], Mapping[str, Any]]
    ) -> None:
        self.table = table
        self.kind = kind
        self._columns = columns
        self._decoder = msgspec.json.Decoder(kind)
        self._list_decoder = msgspec.json.Decoder(list[kind])  # type: ignore[valid-type]

    def decode(self, text: str | bytes) -> S:
        return self._decoder.decode(text)

    def _row(self, item: S) -> dict[str, Any]:
        return {"id": uuid.UUID(getattr(item, "id")), **self._columns(item), "doc": item}  # noqa: B009

    async def insert(self, conn: Connection, item: S) -> None:
        row = self._row(item)
        names = ", ".join(row)
        marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
        await conn.execute(f"INSERT INTO {self.table} ({names}) VALUES ({marks})", *row.values())

    async def insert_many(self, conn: Connection, items: Sequence[S]) -> None:
        """``insert`` for many aggregates, in one round trip."""
        rows = [self._row(item) for item in items]
        if not rows:
            return
        names = ", ".join(rows[0])
        marks = ", ".join(f"${i}" for i in range(1, len(rows[0]) + 1))
        await conn.executemany(
            f"INSERT INTO {self.table} ({names}) VALUES ({marks})",
            [tuple(row.values()) for row in rows],
        )

    async def save(self, conn: Connection, item: S) -> None:
        """Store a changed aggregate loaded ``FOR UPDATE`` at ``version - 1``."""
        row = self._row(item)
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(row, 1) if name != "id")
        status = await conn.execute(
            f"UPDATE {self.table} SET {sets} WHERE id = $1 AND version = $"
            f"{list(row).index('version') + 1} - 1",
            *row.values(),
        )
        if status != "UPDATE 1":
            raise RuntimeError(f"{self.table} {row['id']} changed under a row lock")

    async def save_locked(self, conn: Connection, items: Sequence[S]) -> None:
        """Store changed aggregates this transaction loaded ``FOR UPDATE`` (so none can have
        changed meanwhile), each at ``version - 1``, in one round trip."""
        rows = [self._row(item) for item in items]
        if not rows:
            return
        names = [name for name in rows[0] if name != "id"]
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, 2))
        await conn.executemany(
            f"UPDATE {self.table} SET {sets} WHERE id = $1",
            [(row["id"], *(row[name] for name in names)) for row in rows],
        )

    async def get(
        self, conn: Queries, id: str, *, buyer: str | None, for_update: bool = False
    ) -> S | None:
        """The aggregate ``id`` if ``buyer`` may see it (``None``: every buyer's)."""
        key = as_uuid(id)
        if key is None:
            return None
        lock = " FOR UPDATE" if for_update else ""
        text = await conn.fetchval(
            f"SELECT doc::text FROM {self.table} "
            f"WHERE id = $1 AND ($2::text IS NULL OR buyer_id = $2){lock}",
            key,
            buyer,
        )
        return None if text is None else self._decoder.decode(text)

    async def many(self, conn: Queries, ids: Sequence[str], *, for_update: bool = False) -> list[S]:
        keys = [k for k in (as_uuid(i) for i in ids) if k is not None]
        lock = " FOR UPDATE" if for_update else ""
        rows = await conn.fetch(
            f"SELECT doc::text AS doc FROM {self.table} WHERE id = ANY($1::uuid[]) "
            f"ORDER BY created_at, id{lock}",
            keys,
        )
        return [self._decoder.decode(row["doc"]) for row in rows]

    async def raw(self, conn: Queries, id: str, *, buyer: str | None) -> Raw | None:
        """The aggregate's document as stored (what GET returns) and its version."""
        key = as_uuid(id)
        if key is None:
            return None
        row = await conn.fetchrow(
            f"SELECT doc::text AS doc, version FROM {self.table} "
            "WHERE id = $1 AND ($2::text IS NULL OR buyer_id = $2)",
            key,
            buyer,
        )
        return None if row is None else Raw(doc=row["doc"], version=row["version"])

    async def page_raw(self, conn: Queries, page: Page) -> RawPage:
        """One page, newest first: one JSON array built by PostgreSQL, with the sort key of
        its last item (for the next cursor)."""
        clause, params = page.clause()
        sql = (
            "SELECT coalesce(json_agg(doc ORDER BY created_at DESC, id DESC), '[]')::text AS items,"
            " count(*) AS n, (array_agg(created_at ORDER BY created_at, id))[1] AS last_at,"
            " (array_agg(id ORDER BY created_at, id))[1] AS last_id"
            f" FROM (SELECT doc, created_at, id FROM {self.table}{clause}) AS page"
        )
        row = await conn.fetchrow(sql, *params)
        assert row is not None  # an aggregate always answers one row
        full = row["n"] == page.limit and row["n"] > 0
        return RawPage(items=row["items"], last=(row["last_at"], row["last_id"]) if full else None)

    async def page(self, conn: Queries, page: Page) -> list[S]:
        """One page, newest first, decoded."""
        result: list[S] = self._list_decoder.decode((await self.page_raw(conn, page)).items)
        return result
