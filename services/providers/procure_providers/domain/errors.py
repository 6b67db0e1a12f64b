"""The providers service's own domain error; the common ones are in ``procure_shared.errors``."""

from __future__ import annotations

from procure_shared.errors import Duplicate

__all__ = ["DuplicateIdentifier"]


class DuplicateIdentifier(Duplicate):
    """An identifier already belongs to another provider (409 naming it)."""

    def __init__(self, scheme: str, id: str, provider_id: str, provider_name: str) -> None:
        super().__init__(
            f"identifier {scheme}:{id} already belongs to provider {provider_id} ({provider_name})",
            title="Identifier already registered",
            errors=[("identifiers", f"held by {provider_id}")],
        )
        self.scheme = scheme
        self.id = id
        self.provider_id = provider_id
        self.provider_name = provider_name
