"""The asyncpg pool and dedicated connections.

The pool does not reset connections on release (asyncpg's reset costs a round trip, about a
third of a simple endpoint's throughput on our machines: docs/decisions/0002). The rule that
makes this safe: no session state on pooled connections. Session advisory locks and LISTEN live
on dedicated connections (``connect_dedicated``); settings use ``SET LOCAL`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

__all__ = [
    "Connection",
    "Pool",
    "Queries",
    "connect_dedicated",
    "create_pool",
    "is_connection_error",
]

if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    # What code that runs SQL receives: a dedicated connection or one lent by the pool.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    # What code that runs single statements, outside any transaction, can take as well: the
    # pool (each statement on a connection it lends for that statement).
    Queries: TypeAlias = Connection | Pool
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection | PoolConnectionProxy
    Queries = Connection | Pool

_json_encoder = msgspec.json.Encoder()


def _encode_json(value: Any) -> str:
    return _json_encoder.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=msgspec.json.decode, schema="pg_catalog"
        )


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


async def create_pool(dsn: str, *, size: int = 10, min_size: int = 1) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min(min_size, size),
        max_size=size,
        init=_init_connection,
        reset=_no_reset,
        # Fail fast when the server is down rather than hang a request.
        timeout=5,
        command_timeout=60,
    )
    assert pool is not None
    return pool


async def connect_dedicated(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, timeout=5)
    await _init_connection(conn)
    return conn


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable (retry later), not a bad query."""
    return isinstance(
        exc,
        (
            OSError,
            TimeoutError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
            asyncpg.AdminShutdownError,
            asyncpg.CrashShutdownError,
            asyncpg.exceptions.ConnectionDoesNotExistError,
            # What asyncpg raises when the connection breaks in the middle of an operation
            # (seen when PostgreSQL is killed during a write burst).
            asyncpg.exceptions.InternalClientError,
        ),
    )
