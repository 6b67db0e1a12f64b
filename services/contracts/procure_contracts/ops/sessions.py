"""The ops dashboard's server-side sessions and the sign-ins under way at an issuer (decision
22, ``sql/sessions.sql``). A cookie holds a random value; only its SHA-256 is stored.
Starting and ending a session are audited (``ops_session``, by the hash)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from procure_shared.db.audit import Actor, record_change
from procure_shared.db.postgres import Pool
from procure_shared.db.sqlfiles import load_queries
from procure_shared.tokens import Role

__all__ = [
    "RESOURCE",
    "Session",
    "SignIn",
    "end",
    "find",
    "session_from_row",
    "start",
    "start_sign_in",
    "take_sign_in",
]

Q = load_queries(Path(__file__).parent / "sql" / "sessions.sql")
RESOURCE = "ops_session"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    subject: str
    roles: frozenset[Role]
    buyer: str | None
    issuer: str
    expires_at: datetime

    def audited(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "roles": sorted(self.roles),
            "buyer": self.buyer,
            "issuer": self.issuer,
            "expiresAt": self.expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SignIn:
    nonce: str
    verifier: str
    next: str
    fresh: bool


def _now() -> datetime:
    # Sessions follow the tokens they came from: real time, not the service's (demo) clock.
    return datetime.now(UTC)


def _actor(session: Session) -> Actor:
    return Actor(id=session.subject, roles=tuple(sorted(session.roles)), buyer_id=session.buyer)


async def start(pool: Pool, session: Session) -> str:
    """A new session; the value for its cookie."""
    value = secrets.token_urlsafe(32)
    now = _now()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            Q.start_session,
            digest(value),
            session.subject,
            sorted(session.roles),
            session.buyer,
            session.issuer,
            now,
            session.expires_at,
        )
        await record_change(
            conn,
            actor=_actor(session),
            at=now,
            action="ops.signed_in",
            resource_type=RESOURCE,
            resource_id=digest(value),
            before=None,
            after=session.audited(),
        )
    return value


def session_from_row(row: asyncpg.Record) -> Session:
    return Session(
        subject=row["subject"],
        roles=frozenset(Role(x) for x in row["roles"]),
        buyer=row["buyer_id"],
        issuer=row["issuer"],
        expires_at=row["expires_at"],
    )


async def find(pool: Pool, value: str) -> Session | None:
    """The live session whose cookie holds ``value``: None when unknown, expired or ended."""
    if len(value) > 200:
        return None
    row = await pool.fetchrow(Q.find_session, digest(value), _now())
    return None if row is None else session_from_row(row)


async def end(pool: Pool, value: str) -> Session | None:
    """End the session at once (sign-out); the session it was, None if none was live."""
    now = _now()
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q.end_session, digest(value[:200]), now)
        if row is None:
            return None
        session = session_from_row(row)
        await record_change(
            conn,
            actor=_actor(session),
            at=now,
            action="ops.signed_out",
            resource_type=RESOURCE,
            resource_id=digest(value[:200]),
            before=session.audited(),
            after=session.audited() | {"endedAt": now.isoformat()},
        )
    return session


async def start_sign_in(pool: Pool, nonce: str, verifier: str, next_: str) -> str:
    """A sign-in under way; its state (the value for the issuer and the browser's cookie)."""
    state = secrets.token_urlsafe(32)
    await pool.execute(Q.start_sign_in, digest(state), nonce, verifier, next_, _now())
    return state


async def take_sign_in(pool: Pool, state: str) -> SignIn | None:
    """The sign-in ``state`` names, once; None if there is none."""
    row = await pool.fetchrow(Q.take_sign_in, digest(state[:200]), _now())
    if row is None:
        return None
    return SignIn(row["nonce"], row["verifier"], row["next"], bool(row["fresh"]))
