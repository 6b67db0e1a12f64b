"""Suppliers of imported processes as providers: found in the providers service by
identifier, or registered there (never through its database: the port below is its HTTP API).

A party's own identifiers are tried in turn (its ``identifier``, then its
``additionalIdentifiers``); one the registry does not take (an unknown scheme, a malformed id)
is passed over. A party with none it takes is the provider ``OCDS-PARTY:<ocid>/<party>``, so
that importing the process again finds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from procure_contracts.domain.ocds_in import PartyRef, Provider

__all__ = ["ProviderRegistry", "Unusable", "resolve"]

# At most this many questions to the providers service at once.
CONCURRENCY = 8


class Unusable(Exception):
    """The registry does not take this identifier (or this party under it)."""


class ProviderRegistry(Protocol):
    async def find(self, scheme: str, id: str) -> Provider | None:
        """The provider holding the identifier, if any; ``Unusable`` if it is not one the
        registry takes."""

    async def register(self, name: str, scheme: str, id: str) -> Provider | None:
        """A provider registered with the identifier; ``None`` if another holds it already
        (a race: find it again); ``Unusable`` if refused."""


Identifier = tuple[str, str]


class _Resolver:
    def __init__(self, registry: ProviderRegistry) -> None:
        self.registry = registry
        self.found: dict[Identifier, Provider | None] = {}  # None: not registered yet
        self.unusable: set[Identifier] = set()
        self.gate = asyncio.Semaphore(CONCURRENCY)
        self.problems: list[str] = []

    async def _find(self, identifier: Identifier) -> Provider | None:
        if identifier in self.unusable:
            raise Unusable
        if identifier not in self.found:
            async with self.gate:
                try:
                    self.found[identifier] = await self.registry.find(*identifier)
                except Unusable:
                    self.unusable.add(identifier)
                    raise
        return self.found[identifier]

    async def party(self, party: PartyRef, lock: asyncio.Lock) -> Provider | None:
        usable: list[Identifier] = []
        for identifier in [*party.identifiers, party.fallback]:
            try:
                provider = await self._find(identifier)
            except Unusable:
                continue
            if provider is not None:
                return Provider(id=provider.id, name=party.name or provider.name)
            usable.append(identifier)
        # Registered under the first identifier the registry takes (one party at a time per
        # identifier: two parties of a package may be one organisation).
        first = usable[0] if usable else party.fallback
        skipped = [f"{s}:{i}" for s, i in party.identifiers if (s, i) not in usable]
        if skipped:
            self.problems.append(
                f"{party.ocid}: supplier {party.key}'s identifier "
                f"{', '.join(skipped)} is not one the providers service takes"
            )
        async with lock:
            known = self.found.get(first)
            if known is None:
                name = party.legal_name or party.name or party.key
                try:
                    async with self.gate:
                        known = await self.registry.register(name, *first)
                        if known is None:
                            known = await self.registry.find(*first)
                except Unusable as exc:
                    self.problems.append(
                        f"{party.ocid}: supplier {party.key} could not be registered: {exc}"
                    )
                    return None
                if known is None:
                    raise RuntimeError(
                        f"provider {first[0]}:{first[1]} neither registered nor found"
                    )
                self.found[first] = known
        return Provider(id=known.id, name=party.name or known.name)


async def resolve(
    registry: ProviderRegistry, parties: Iterable[PartyRef]
) -> tuple[dict[tuple[str, str], Provider], list[str]]:
    """The provider of each party, by (ocid, party key), and the problems met."""
    resolver = _Resolver(registry)
    lock = asyncio.Lock()
    unique = {(p.ocid, p.key): p for p in parties}
    found = await asyncio.gather(*(resolver.party(p, lock) for p in unique.values()))
    return (
        {key: provider for key, provider in zip(unique, found, strict=True) if provider},
        resolver.problems,
    )


def by_process(
    providers: Mapping[tuple[str, str], Provider], ocid: str, keys: Sequence[str]
) -> dict[str, Provider]:
    return {k: providers[(ocid, k)] for k in keys if (ocid, k) in providers}
