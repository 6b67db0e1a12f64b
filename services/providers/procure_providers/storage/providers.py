"""The provider registry's repository: takes a connection, returns domain Structs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from procure_providers.domain.errors import DuplicateIdentifier
from procure_providers.domain.identifiers import Identifier
from procure_providers.domain.providers import (
    Address,
    Contact,
    Provider,
    ProviderKind,
    ProviderStatus,
    Region,
)
from procure_providers.storage.keys import Row, as_uuid
from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries

__all__ = ["ProviderFilter", "get", "insert", "list_providers", "save"]

Q = load_queries(Path(__file__).parent / "sql" / "providers.sql")


class ProviderFilter(msgspec.Struct, frozen=True, kw_only=True):
    after: tuple[str, str] | None = None  # (legal name, id) of the last item seen
    search: str | None = None
    kind: ProviderKind | None = None
    status: ProviderStatus | None = None
    region: Region | None = None
    sme: bool | None = None
    vcse: bool | None = None
    identifiers: Sequence[Identifier] = ()  # holding any of these
    accredited_for: str | None = None
    accredited_on: date | None = None
    limit: int = 50


def _provider(row: Row) -> Provider:
    identifiers = tuple(
        Identifier(scheme=scheme, id=value)
        for scheme, _, value in (text.partition(":") for text in row["identifiers"])
    )
    return Provider(
        id=str(row["id"]),
        legal_name=row["legal_name"],
        trading_name=row["trading_name"],
        kind=ProviderKind(row["kind"]),
        sme=row["sme"],
        vcse=row["vcse"],
        status=ProviderStatus(row["status"]),
        identifiers=identifiers,
        addresses=msgspec.convert(row["addresses"], tuple[Address, ...]),
        regions=tuple(Region(r) for r in row["regions"]),
        contacts=msgspec.convert(row["contacts"], tuple[Contact, ...]),
        notes=row["notes"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _columns(p: Provider) -> tuple[Any, ...]:
    return (
        uuid.UUID(p.id),
        p.legal_name,
        p.trading_name,
        p.kind.value,
        p.sme,
        p.vcse,
        p.status.value,
        list(p.addresses),
        [r.value for r in p.regions],
        list(p.contacts),
        p.notes,
        p.version,
    )


async def get(conn: Connection, provider_id: str, *, for_update: bool = False) -> Provider | None:
    key = as_uuid(provider_id)
    if key is None:
        return None
    row = await conn.fetchrow(Q.get_for_update if for_update else Q.get, key)
    return _provider(row) if row is not None else None


async def _claim_identifiers(conn: Connection, provider: Provider) -> None:
    """Claim the provider's identifiers; one already held by another provider is refused,
    naming it. The primary key decides races: of concurrent claims exactly one commits."""
    schemes = [i.scheme for i in provider.identifiers]
    ids = [i.id for i in provider.identifiers]
    try:
        async with conn.transaction():  # a savepoint, so the owner can be looked up after
            await conn.execute(Q.add_identifiers, schemes, ids, uuid.UUID(provider.id))
    except asyncpg.UniqueViolationError:
        for identifier in provider.identifiers:
            owner = await conn.fetchrow(Q.owner_of, identifier.scheme, identifier.id)
            if owner is not None and owner["id"] != provider.id:
                raise DuplicateIdentifier(
                    identifier.scheme, identifier.id, owner["id"], owner["legal_name"]
                ) from None
        raise


async def insert(conn: Connection, provider: Provider) -> None:
    await conn.execute(Q.insert, *_columns(provider), provider.created_at, provider.updated_at)
    await _claim_identifiers(conn, provider)


async def save(conn: Connection, provider: Provider, *, identifiers_changed: bool) -> None:
    """Store a changed provider (loaded ``for_update`` in this transaction)."""
    status = await conn.execute(Q.update, *_columns(provider), provider.updated_at)
    if status != "UPDATE 1":
        raise RuntimeError(f"provider {provider.id} changed under a row lock")
    if identifiers_changed:
        await conn.execute(Q.remove_identifiers, uuid.UUID(provider.id))
        await _claim_identifiers(conn, provider)


async def list_providers(conn: Connection, f: ProviderFilter) -> list[Provider]:
    rows = await conn.fetch(
        Q.list,
        f.after[0] if f.after else None,
        uuid.UUID(f.after[1]) if f.after else None,
        f.search,
        f.kind.value if f.kind else None,
        f.status.value if f.status else None,
        f.region.value if f.region else None,
        f.sme,
        f.vcse,
        [i.scheme for i in f.identifiers] if f.identifiers else None,
        [i.id for i in f.identifiers] if f.identifiers else None,
        f.accredited_for,
        f.accredited_on,
        f.limit,
    )
    return [_provider(row) for row in rows]
