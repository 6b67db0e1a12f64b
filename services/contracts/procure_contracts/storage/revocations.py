"""The token revocations the admin made (decision 23, ``sql/revocations.sql``), and the ops
dashboard sessions a subject's revocation ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from procure_contracts.ops.sessions import Session, session_from_row
from procure_shared.db.postgres import Connection, Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = ["Revocation", "add_subject", "add_token", "end_sessions", "in_force", "one", "token"]

Q = load_queries(Path(__file__).parent / "sql" / "revocations.sql")


@dataclass(frozen=True, slots=True)
class Revocation:
    id: int
    jti: str | None
    subject: str | None
    issued_before: datetime | None
    reason: str | None
    revoked_by: str
    revoked_at: datetime
    sequence: int  # its event's sequence (a subject's revocations in order)


def _revocation(row: asyncpg.Record) -> Revocation:
    return Revocation(**dict(row))


def _maybe(row: asyncpg.Record | None) -> Revocation | None:
    return None if row is None else _revocation(row)


async def add_token(
    conn: Connection, jti: str, reason: str | None, by: str, at: datetime
) -> Revocation | None:
    """Record the revocation of token ``jti``; None when it was revoked already."""
    return _maybe(await conn.fetchrow(Q.add_token, jti, reason, by, at))


async def token(db: Queries, jti: str) -> Revocation | None:
    return _maybe(await db.fetchrow(Q.token, jti))


async def add_subject(
    conn: Connection, subject: str, before: datetime, reason: str | None, by: str, at: datetime
) -> Revocation:
    row = await conn.fetchrow(Q.add_subject, subject, before, reason, by, at)
    assert row is not None  # an INSERT ... RETURNING returns its row
    return _revocation(row)


async def one(db: Queries, revocation_id: int) -> Revocation | None:
    return _maybe(await db.fetchrow(Q.one, revocation_id))


async def in_force(
    db: Queries, since: datetime, limit: int, before_id: int | None
) -> list[Revocation]:
    """The revocations that may still stop a token alive ``since``, newest first."""
    return [_revocation(r) for r in await db.fetch(Q.in_force, since, limit, before_id)]


async def end_sessions(
    conn: Connection, subject: str, started_before: datetime, at: datetime
) -> list[tuple[str, Session]]:
    """End ``subject``'s live sessions started before ``started_before``: (id, session) each."""
    rows = await conn.fetch(Q.end_sessions, subject, started_before, at)
    return [(row["id"], session_from_row(row)) for row in rows]
