"""Eligibility: may a provider be awarded work in a category on a day?

The answer lists every reason against (machine-readable codes of ``interfaces.md``) and the
warnings a buyer should weigh (a warning never makes a provider ineligible: the buyer decides).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum

import msgspec

from procure_providers.domain.accreditations import Accreditation, AccreditationStatus
from procure_providers.domain.buyers import Who
from procure_providers.domain.exclusions import Exclusion
from procure_providers.domain.portfolio import LatestRating
from procure_providers.domain.providers import ProviderStatus
from procure_shared.categories import Category
from procure_shared.events.eligibility import EligibilityResult, Finding

__all__ = ["Decision", "Facts", "ReasonCode", "WarningCode", "decide"]

# The answer for one provider: the published shape of the eligibility reply.
Decision = EligibilityResult


class ReasonCode(StrEnum):
    UNKNOWN = "unknown"
    INACTIVE = "inactive"
    EXCLUDED = "excluded"
    ACCREDITATION_MISSING = "accreditation_missing"
    ACCREDITATION_EXPIRED = "accreditation_expired"


class WarningCode(StrEnum):
    PERFORMANCE_INADEQUATE = "performance_inadequate"


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What the registry knows of one provider that bears on eligibility."""

    provider_id: str
    name: str
    status: ProviderStatus
    exclusions: Sequence[Exclusion]
    accreditations: Sequence[Accreditation]  # in the category asked about, or all (decide picks)
    latest_rating: LatestRating | None


def decide(
    provider_id: str,
    facts: Facts | None,
    category: Category,
    on: date,
    who: Who | None = None,
) -> Decision:
    """The decision for one provider. A performance warning names the KPI and its contract
    only to ``who`` when the contract is its buyer's (or ``who`` is an admin); to anyone else,
    and when the asker is not known (``None``: the NATS question names no buyer), it says only
    that the rating is another buyer's or a buyer's."""
    if facts is None:
        reason = Finding(
            code=ReasonCode.UNKNOWN, message=f"no provider {provider_id} is registered"
        )
        return Decision(provider_id=provider_id, eligible=False, reasons=[reason], warnings=[])
    reasons: list[Finding] = []
    if facts.status is not ProviderStatus.ACTIVE:
        reasons.append(
            Finding(code=ReasonCode.INACTIVE, message=f"{facts.name} is {facts.status.value}")
        )
    for exclusion in sorted(facts.exclusions, key=lambda e: e.starts_on):
        if exclusion.in_force_on(on):
            until = exclusion.in_force_until()
            period = f"until {until}" if until else "with no end date"
            reasons.append(
                Finding(
                    code=ReasonCode.EXCLUDED,
                    message=(
                        f"{facts.name} is excluded {period}: {exclusion.ground} "
                        f"(source: {exclusion.source})"
                    ),
                    until=until,
                )
            )
    reasons += _accreditation(facts, category, on)
    warnings: list[Finding] = []
    rating = facts.latest_rating
    if rating is not None and rating.rating == "inadequate":
        warnings.append(
            Finding(
                code=WarningCode.PERFORMANCE_INADEQUATE,
                message=(
                    f"the latest performance rating of {facts.name} is Inadequate "
                    f"({_rated(rating, who)})"
                ),
            )
        )
    return Decision(
        provider_id=provider_id, eligible=not reasons, reasons=reasons, warnings=warnings
    )


def _rated(rating: LatestRating, who: Who | None) -> str:
    if who is not None and who.owns(rating.buyer_id):
        return (
            f"KPI {rating.name!r} on contract {rating.contract_id}, "
            f"period ending {rating.period_end}"
        )
    if who is not None:
        return "on another buyer's contract"
    return "on a buyer's contract"


def _accreditation(facts: Facts, category: Category, on: date) -> list[Finding]:
    held = [a for a in facts.accreditations if a.category is category]
    if any(a.valid_on(on) for a in held):
        return []
    active = [a for a in held if a.status is AccreditationStatus.ACTIVE]
    lapsed = [a.valid_to for a in active if a.valid_to is not None and a.valid_to < on]
    if lapsed:
        return [
            Finding(
                code=ReasonCode.ACCREDITATION_EXPIRED,
                message=(
                    f"{facts.name}'s accreditation for {category.label.lower()} "
                    f"expired on {max(lapsed)}"
                ),
            )
        ]
    later = [a.valid_from for a in active if a.valid_from > on]
    detail = f" (one is valid from {min(later)})" if later else ""
    revoked = " (revoked)" if held and not active else ""
    return [
        Finding(
            code=ReasonCode.ACCREDITATION_MISSING,
            message=(
                f"{facts.name} holds no accreditation for {category.label.lower()} valid on "
                f"{on}{detail}{revoked}"
            ),
        )
    ]
