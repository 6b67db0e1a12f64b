"""What the HTTP API takes and gives beyond the domain Structs (which it returns as they are).

Request bodies reject unknown fields: a typo is a 400, never silently ignored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from procure_providers.domain.accreditations import (
    Accreditation,
    AccreditationChanges,
    AccreditationDraft,
)
from procure_providers.domain.exclusions import Exclusion, ExclusionDraft
from procure_providers.domain.identifiers import (
    OCDS_PARTY,
    OCDS_PARTY_MAX,
    ORG_ID_MAX,
    SCHEME_MAX,
    accepted_schemes,
)
from procure_providers.domain.providers import (
    SINGLE_LINE,
    Address,
    Contact,
    Provider,
    ProviderChanges,
    ProviderDraft,
    ProviderKind,
    ProviderStatus,
    Region,
)
from procure_shared.categories import Category

__all__ = [
    "AccreditationIn",
    "AccreditationList",
    "AccreditationPatch",
    "EligibilityIn",
    "ExclusionIn",
    "ExclusionList",
    "IdentifierIn",
    "LiftIn",
    "ProviderIn",
    "ProviderPage",
    "ProviderPatch",
    "RevokeIn",
]

# Text people write: no NUL (PostgreSQL cannot store it); names are one line.
ANY_TEXT = r"^[^\x00]*$"
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=SINGLE_LINE)]
Note = Annotated[str, msgspec.Meta(max_length=4000, pattern=ANY_TEXT)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=ANY_TEXT)]


class _In(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class IdentifierIn(_In, frozen=True, kw_only=True):
    scheme: Annotated[
        str,
        msgspec.Meta(
            max_length=300,
            pattern=SINGLE_LINE,
            examples=["GB-COH", "UA-EDR", OCDS_PARTY],
            description=f"The register: {accepted_schemes()}. Matched case-insensitively "
            f"and stored upper-case (a CC-REGISTER of at most {SCHEME_MAX} characters); a "
            "scheme of none of these forms is 422.",
        ),
    ]
    id: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=OCDS_PARTY_MAX,
            pattern=SINGLE_LINE,
            examples=["01234567", "ocds-213czf-000-00001/GB-LAC-E09000003"],
            description=(
                "The number in that register. A known scheme's is normalised and checked "
                "against the register's format; another org-id.guide register's is kept as "
                f"given, trimmed (at most {ORG_ID_MAX} characters); an {OCDS_PARTY} id is "
                "<ocid>/<party id>, trimmed. A wrong one is 422."
            ),
        ),
    ]


Identifiers = Annotated[list[IdentifierIn], msgspec.Meta(min_length=1, max_length=10)]
Addresses = Annotated[list[Address], msgspec.Meta(max_length=10)]
Contacts = Annotated[list[Contact], msgspec.Meta(max_length=20)]


class ProviderIn(_In, frozen=True, kw_only=True):
    legal_name: Name
    trading_name: Name | None = None
    kind: ProviderKind
    sme: bool = False
    vcse: bool = False
    identifiers: Identifiers
    addresses: Addresses = []
    regions: list[Region] = []
    contacts: Contacts = []
    notes: Note | None = None

    def draft(self) -> ProviderDraft:
        return ProviderDraft(
            legal_name=self.legal_name,
            trading_name=self.trading_name,
            kind=self.kind,
            sme=self.sme,
            vcse=self.vcse,
            identifiers=[(i.scheme, i.id) for i in self.identifiers],
            addresses=self.addresses,
            regions=self.regions,
            contacts=self.contacts,
            notes=self.notes,
        )


class ProviderPatch(_In, frozen=True, kw_only=True):
    legal_name: Name | msgspec.UnsetType = msgspec.UNSET
    trading_name: Name | msgspec.UnsetType | None = msgspec.UNSET
    kind: ProviderKind | msgspec.UnsetType = msgspec.UNSET
    sme: bool | msgspec.UnsetType = msgspec.UNSET
    vcse: bool | msgspec.UnsetType = msgspec.UNSET
    status: ProviderStatus | msgspec.UnsetType = msgspec.UNSET
    identifiers: Identifiers | msgspec.UnsetType = msgspec.UNSET
    addresses: Addresses | msgspec.UnsetType = msgspec.UNSET
    regions: list[Region] | msgspec.UnsetType = msgspec.UNSET
    contacts: Contacts | msgspec.UnsetType = msgspec.UNSET
    notes: Note | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> ProviderChanges:
        identifiers = self.identifiers
        return ProviderChanges(
            legal_name=self.legal_name,
            trading_name=self.trading_name,
            kind=self.kind,
            sme=self.sme,
            vcse=self.vcse,
            status=self.status,
            identifiers=(
                msgspec.UNSET
                if isinstance(identifiers, msgspec.UnsetType)
                else [(i.scheme, i.id) for i in identifiers]
            ),
            addresses=self.addresses,
            regions=self.regions,
            contacts=self.contacts,
            notes=self.notes,
        )


class ProviderPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Provider]
    next_cursor: str | None


class AccreditationIn(_In, frozen=True, kw_only=True):
    category: Category
    granted_by: Name
    valid_from: date
    valid_to: date | None = None
    evidence_ref: Name | None = None

    def draft(self) -> AccreditationDraft:
        return AccreditationDraft(
            category=self.category,
            granted_by=self.granted_by,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            evidence_ref=self.evidence_ref,
        )


class AccreditationPatch(_In, frozen=True, kw_only=True):
    granted_by: Name | msgspec.UnsetType = msgspec.UNSET
    valid_from: date | msgspec.UnsetType = msgspec.UNSET
    valid_to: date | msgspec.UnsetType | None = msgspec.UNSET
    evidence_ref: Name | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> AccreditationChanges:
        return AccreditationChanges(
            granted_by=self.granted_by,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            evidence_ref=self.evidence_ref,
        )


class AccreditationList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Accreditation]


class RevokeIn(_In, frozen=True, kw_only=True):
    reason: Reason


class ExclusionIn(_In, frozen=True, kw_only=True):
    ground: Reason
    source: Name
    starts_on: date
    ends_on: date | None = None

    def draft(self) -> ExclusionDraft:
        return ExclusionDraft(
            ground=self.ground, source=self.source, starts_on=self.starts_on, ends_on=self.ends_on
        )


class ExclusionList(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Exclusion]


class LiftIn(_In, frozen=True, kw_only=True):
    reason: Reason
    on: date | None = None  # the day it stops applying; today when absent


class EligibilityIn(_In, frozen=True, kw_only=True):
    provider_ids: Annotated[list[str], msgspec.Meta(min_length=1, max_length=100)]
    category: Category
    on: date | None = None  # today when absent
