"""The events the providers service publishes (``providers.*``, stream ``PROVIDERS``).

Shared data (the registry is shared by all buyers): no ``buyerid`` on these envelopes. Each
carries enough for another service to keep a read model without calling back.
"""

from __future__ import annotations

from datetime import date

import msgspec

__all__ = [
    "AccreditationData",
    "AccreditationDue",
    "AccreditationRevoked",
    "ExclusionData",
    "ExclusionLifted",
    "IdentifierData",
    "ProviderData",
]


class _Data(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class IdentifierData(_Data, frozen=True, kw_only=True):
    scheme: str
    id: str


class ProviderData(_Data, frozen=True, kw_only=True):
    """``providers.provider.registered`` and ``.updated``: the provider as it now stands."""

    provider_id: str
    legal_name: str
    trading_name: str | None = None
    kind: str
    sme: bool = False
    vcse: bool = False
    status: str
    identifiers: list[IdentifierData] = []
    regions: list[str] = []
    changed: list[str] = []


class AccreditationData(_Data, frozen=True, kw_only=True):
    """``providers.accreditation.granted`` and ``.updated``."""

    accreditation_id: str
    provider_id: str
    category: str
    granted_by: str
    valid_from: date
    valid_to: date | None = None
    evidence_ref: str | None = None
    status: str


class AccreditationDue(_Data, frozen=True, kw_only=True):
    """``providers.accreditation.expiring`` (``days_left`` ahead) and ``.expired`` (0)."""

    accreditation_id: str
    provider_id: str
    category: str
    valid_to: date
    days_left: int


class AccreditationRevoked(_Data, frozen=True, kw_only=True):
    accreditation_id: str
    provider_id: str
    category: str
    reason: str


class ExclusionData(_Data, frozen=True, kw_only=True):
    """``providers.exclusion.recorded``."""

    exclusion_id: str
    provider_id: str
    ground: str
    source: str
    starts_on: date
    ends_on: date | None = None


class ExclusionLifted(_Data, frozen=True, kw_only=True):
    exclusion_id: str
    provider_id: str
    lifted_on: date
    reason: str
