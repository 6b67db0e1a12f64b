"""Providers: who they are, how to reach them, which identifiers name them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from procure_providers.domain.identifiers import Identifier, parse_identifier
from procure_shared.errors import RuleBroken
from procure_shared.events.providers import IdentifierData, ProviderData

__all__ = [
    "SINGLE_LINE",
    "Address",
    "Contact",
    "Provider",
    "ProviderChanges",
    "ProviderDraft",
    "ProviderKind",
    "ProviderStatus",
    "Region",
    "event_data",
    "register",
    "update",
]


class ProviderKind(StrEnum):
    COMPANY = "company"
    CHARITY = "charity"
    SCHOOL_OR_TRUST = "school_or_trust"
    PUBLIC_BODY = "public_body"


class ProviderStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # dissolved, ceased trading, merged: kept for the record


class Region(StrEnum):
    """The UK's ITL 1 regions, where a provider can deliver."""

    NORTH_EAST = "north_east"
    NORTH_WEST = "north_west"
    YORKSHIRE_AND_THE_HUMBER = "yorkshire_and_the_humber"
    EAST_MIDLANDS = "east_midlands"
    WEST_MIDLANDS = "west_midlands"
    EAST_OF_ENGLAND = "east_of_england"
    LONDON = "london"
    SOUTH_EAST = "south_east"
    SOUTH_WEST = "south_west"
    WALES = "wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern_ireland"


# One line of printable text: no control characters (PostgreSQL cannot store NUL at all).
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=SINGLE_LINE)]


class Address(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    street_address: Text
    locality: Text
    postal_code: Annotated[str, msgspec.Meta(min_length=2, max_length=12, pattern=SINGLE_LINE)]
    country_name: Text = "United Kingdom"
    region: Text | None = None


class Contact(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    name: Text
    email: Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
    telephone: Annotated[str, msgspec.Meta(max_length=40, pattern=SINGLE_LINE)] | None = None
    role: Text | None = None


class Provider(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    legal_name: str
    trading_name: str | None
    kind: ProviderKind
    sme: bool
    vcse: bool
    status: ProviderStatus
    identifiers: tuple[Identifier, ...]
    addresses: tuple[Address, ...]
    regions: tuple[Region, ...]
    contacts: tuple[Contact, ...]
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class ProviderDraft(msgspec.Struct, frozen=True, kw_only=True):
    legal_name: str
    trading_name: str | None
    kind: ProviderKind
    sme: bool
    vcse: bool
    identifiers: Sequence[tuple[str, str]]
    addresses: Sequence[Address]
    regions: Sequence[Region]
    contacts: Sequence[Contact]
    notes: str | None


class ProviderChanges(msgspec.Struct, frozen=True, kw_only=True):
    """A partial update: ``UNSET`` leaves a field as it is; ``None`` clears an optional one."""

    legal_name: str | msgspec.UnsetType = msgspec.UNSET
    trading_name: str | msgspec.UnsetType | None = msgspec.UNSET
    kind: ProviderKind | msgspec.UnsetType = msgspec.UNSET
    sme: bool | msgspec.UnsetType = msgspec.UNSET
    vcse: bool | msgspec.UnsetType = msgspec.UNSET
    status: ProviderStatus | msgspec.UnsetType = msgspec.UNSET
    identifiers: Sequence[tuple[str, str]] | msgspec.UnsetType = msgspec.UNSET
    addresses: Sequence[Address] | msgspec.UnsetType = msgspec.UNSET
    regions: Sequence[Region] | msgspec.UnsetType = msgspec.UNSET
    contacts: Sequence[Contact] | msgspec.UnsetType = msgspec.UNSET
    notes: str | msgspec.UnsetType | None = msgspec.UNSET


def _identifiers(pairs: Sequence[tuple[str, str]]) -> tuple[Identifier, ...]:
    if not pairs:
        raise RuleBroken("a provider needs at least one identifier", "identifiers")
    parsed: list[Identifier] = []
    for scheme, value in pairs:
        identifier = parse_identifier(scheme, value)
        if identifier in parsed:
            raise RuleBroken(f"identifier {identifier} is given twice", "identifiers")
        parsed.append(identifier)
    return tuple(parsed)


def _name(value: str, field: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise RuleBroken(f"{field} must not be blank", field)
    return cleaned


def _unique(values: Sequence[Region]) -> tuple[Region, ...]:
    return tuple(dict.fromkeys(values))


def register(draft: ProviderDraft, *, id: str, now: datetime) -> Provider:
    return Provider(
        id=id,
        legal_name=_name(draft.legal_name, "legalName"),
        trading_name=_name(draft.trading_name, "tradingName") if draft.trading_name else None,
        kind=draft.kind,
        sme=draft.sme,
        vcse=draft.vcse,
        status=ProviderStatus.ACTIVE,
        identifiers=_identifiers(draft.identifiers),
        addresses=tuple(draft.addresses),
        regions=_unique(draft.regions),
        contacts=tuple(draft.contacts),
        notes=draft.notes,
        version=1,
        created_at=now,
        updated_at=now,
    )


def update(
    provider: Provider, changes: ProviderChanges, *, now: datetime
) -> tuple[Provider, list[str]]:
    """The provider with ``changes`` applied and the camelCase names of the fields that changed
    (none: the provider comes back as it was, same version)."""
    values: dict[str, object] = {}
    for field in changes.__struct_fields__:
        value = getattr(changes, field)
        if value is msgspec.UNSET:
            continue
        if field == "legal_name":
            value = _name(str(value), "legalName")
        elif field == "trading_name" and value is not None:
            value = _name(str(value), "tradingName")
        elif field == "identifiers":
            value = _identifiers(value)
        elif field == "regions":
            value = _unique(value)
        elif field in ("addresses", "contacts"):
            value = tuple(value)
        if getattr(provider, field) != value:
            values[field] = value
    if not values:
        return provider, []
    changed = [_camel(name) for name in values]
    return (
        msgspec.structs.replace(provider, **values, version=provider.version + 1, updated_at=now),
        changed,
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def event_data(provider: Provider, changed: Sequence[str] = ()) -> ProviderData:
    return ProviderData(
        provider_id=provider.id,
        legal_name=provider.legal_name,
        trading_name=provider.trading_name,
        kind=provider.kind.value,
        sme=provider.sme,
        vcse=provider.vcse,
        status=provider.status.value,
        identifiers=[IdentifierData(scheme=i.scheme, id=i.id) for i in provider.identifiers],
        regions=[r.value for r in provider.regions],
        changed=list(changed),
    )
