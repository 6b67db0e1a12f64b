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

from procure_contracts.ocds.mapping_in import PartyRef, Provider

__all__ = ["MANY", "Identifier", "ProviderRegistry", "Unusable", "resolve"]

# At most this many questions to the providers service at once.
CONCURRENCY = 8


Identifier = tuple[str, str]
# Identifiers asked in one question.
MANY = 100


class Unusable(Exception):
    """The registry does not take this identifier (or this party under it)."""


class ProviderRegistry(Protocol):
    async def find(self, scheme: str, id: str) -> Provider | None:
        """The provider holding the identifier, if any; ``Unusable`` if it is not one the
        registry takes."""

    async def register(self, name: str, scheme: str, id: str) -> Provider | None:
        """A provider registered with the identifier; ``None`` if another holds it already
        (a race: find it again); ``Unusable`` if refused."""

    async def find_many(self, identifiers: Sequence[Identifier]) -> dict[Identifier, Provider]:
        """The providers holding these identifiers (at most ``MANY`` a question), by each
        identifier as asked that a provider holds in exactly that form; ``Unusable`` if any
        is not one the registry takes."""


class _Resolver:
    """Asks the registry once per identifier, however many parties of the package name it
    (the first asker's question is every later one's answer)."""

    def __init__(self, registry: ProviderRegistry) -> None:
        self.registry = registry
        self.lookups: dict[Identifier, asyncio.Future[Provider | None]] = {}
        self.registered: dict[Identifier, asyncio.Task[Provider | None]] = {}
        self.gate = asyncio.Semaphore(CONCURRENCY)
        self.problems: list[str] = []

    async def prefetch(self, identifiers: Iterable[Identifier]) -> None:
        """Ask for many identifiers at once, ``MANY`` a question: each one a provider holds as
        written is answered; the others (not held, or held in another spelling, or in a
        identifier the registry does not take) are asked one by one when a party needs them."""
        asked = list(dict.fromkeys(identifiers))
        chunks = [asked[i : i + MANY] for i in range(0, len(asked), MANY)]
        answers = await asyncio.gather(*(self._ask_many(chunk) for chunk in chunks))
        loop = asyncio.get_running_loop()
        for found in answers:
            for identifier, provider in found.items():
                known: asyncio.Future[Provider | None] = loop.create_future()
                known.set_result(provider)
                self.lookups.setdefault(identifier, known)

    async def _ask_many(self, identifiers: list[Identifier]) -> dict[Identifier, Provider]:
        """A question the registry refuses (one identifier it does not take) is asked again
        in halves, so that one bad identifier costs a few questions, not a hundred."""
        try:
            async with self.gate:
                return await self.registry.find_many(identifiers)
        except Unusable:
            if len(identifiers) == 1:
                return {}
        half = len(identifiers) // 2
        first, second = await asyncio.gather(
            self._ask_many(identifiers[:half]), self._ask_many(identifiers[half:])
        )
        return first | second

    async def _ask_find(self, identifier: Identifier) -> Provider | None:
        async with self.gate:
            return await self.registry.find(*identifier)

    async def _ask_register(self, name: str, identifier: Identifier) -> Provider | None:
        async with self.gate:
            made = await self.registry.register(name, *identifier)
            # None: another registered it meanwhile (a race): it is there now.
            return made if made is not None else await self.registry.find(*identifier)

    def _find(self, identifier: Identifier) -> asyncio.Future[Provider | None]:
        if identifier not in self.lookups:
            self.lookups[identifier] = asyncio.ensure_future(self._ask_find(identifier))
        return self.lookups[identifier]

    async def party(self, party: PartyRef) -> Provider | None:
        usable: list[Identifier] = []
        for identifier in party.identifiers:
            try:
                provider = await self._find(identifier)
            except Unusable:
                continue
            if provider is not None:
                return Provider(id=provider.id, name=party.name or provider.name)
            usable.append(identifier)
        if not usable:  # only a party with no identifier the registry takes is its own
            try:
                provider = await self._find(party.fallback)
            except Unusable:
                provider = None
            if provider is not None:
                return Provider(id=provider.id, name=party.name or provider.name)
        # Registered under the first identifier the registry takes, once per identifier
        # (two parties of a package may be one organisation).
        first = usable[0] if usable else party.fallback
        skipped = [f"{s}:{i}" for s, i in party.identifiers if (s, i) not in usable]
        if skipped:
            self.problems.append(
                f"{party.ocid}: supplier {party.key}'s identifier "
                f"{', '.join(skipped)} is not one the providers service takes"
            )
        if first not in self.registered:
            name = party.legal_name or party.name or party.key
            self.registered[first] = asyncio.ensure_future(self._ask_register(name, first))
        try:
            known = await self.registered[first]
        except Unusable as exc:
            self.problems.append(
                f"{party.ocid}: supplier {party.key} could not be registered: {exc}"
            )
            return None
        if known is None:
            raise RuntimeError(f"provider {first[0]}:{first[1]} neither registered nor found")
        return Provider(id=known.id, name=party.name or known.name)


async def resolve(
    registry: ProviderRegistry, parties: Iterable[PartyRef]
) -> tuple[dict[tuple[str, str], Provider], list[str]]:
    """The provider of each party, by (ocid, party key), and the problems met."""
    resolver = _Resolver(registry)
    unique = {(p.ocid, p.key): p for p in parties}
    try:
        await resolver.prefetch(i for p in unique.values() for i in p.identifiers or [p.fallback])
        found = await asyncio.gather(*(resolver.party(p) for p in unique.values()))
    finally:
        for task in [*resolver.lookups.values(), *resolver.registered.values()]:
            task.cancel()
    return (
        {key: provider for key, provider in zip(unique, found, strict=True) if provider},
        resolver.problems,
    )


def of_process(
    providers: Mapping[tuple[str, str], Provider], ocid: str, keys: Sequence[str]
) -> dict[str, Provider]:
    return {k: providers[(ocid, k)] for k in keys if (ocid, k) in providers}
