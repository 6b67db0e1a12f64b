"""The contracts service's own options, read from the environment once, in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

import msgspec

from procure_contracts.usecases.context import Rules
from procure_shared.settings import ServiceOptions

__all__ = ["ENV_NAMES", "OPTIONS", "ContractsOptions", "buyer_names", "options_from_env"]


class ContractsOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The contracts service's options; each field's ``Meta`` description is its entry in
    docs/configuration.md."""

    amendment_threshold: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            le=10,
            description="The share of a contract's original value past which the net "
            "cumulative value of its amendments flags the contract.",
        ),
    ] = 0.10
    eligibility_timeout: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=60,
            description="Seconds an award waits for the providers service's eligibility answer.",
        ),
    ] = 2.0
    milestone_lead_days: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=366,
            description="How many days before its due date a milestone is due soon: the "
            "monitor's notice and the ops dashboard's window (unless a page asks for another).",
        ),
    ] = 14
    milestone_scan_interval: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="How often (real seconds) the milestone monitor looks for what has "
            "fallen due.",
        ),
    ] = 60.0
    providers_url: Annotated[
        str | None,
        msgspec.Meta(
            description="The providers service's HTTP API (its base URL), where OCDS imports "
            "find and register suppliers; unset: OCDS imports answer 503."
        ),
    ] = None
    ocid_prefix: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^ocds-[a-z0-9]+$",
            description="The prefix of our OCDS ocids (register one with the Open Contracting "
            "Partnership).",
        ),
    ] = "ocds-procure"
    ocds_publisher: Annotated[
        str, msgspec.Meta(description="The publisher's name in the OCDS packages we publish.")
    ] = "Procure"
    buyer_names: Annotated[
        str,
        msgspec.Meta(
            description="The buyers' names in OCDS releases, as `id=Name` pairs separated by "
            "`;` (`dfe=Department for Education;dhsc=...`)."
        ),
    ] = ""
    ocds_schemas: Annotated[
        str | None,
        msgspec.Meta(
            description="A folder of OCDS schemas to use instead of the ones shipped with the "
            "contracts service (laid out as 1.1.5/ and extensions/)."
        ),
    ] = None

    def rules(self) -> Rules:
        return Rules(
            amendment_threshold=Decimal(str(self.amendment_threshold)),
            eligibility_timeout=self.eligibility_timeout,
        )


def buyer_names(text: str) -> dict[str, str]:
    """``"dfe=Department for Education;dhsc=..."`` as a mapping."""
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}


ENV_NAMES = {
    "amendment_threshold": "PROCURE_AMENDMENT_THRESHOLD",
    "eligibility_timeout": "PROCURE_ELIGIBILITY_TIMEOUT",
    "milestone_lead_days": "PROCURE_MILESTONE_LEAD_DAYS",
    "milestone_scan_interval": "PROCURE_MILESTONE_SCAN_INTERVAL",
    "providers_url": "PROCURE_PROVIDERS_URL",
    "ocid_prefix": "PROCURE_OCID_PREFIX",
    "ocds_publisher": "PROCURE_OCDS_PUBLISHER",
    "buyer_names": "PROCURE_BUYER_NAMES",
    "ocds_schemas": "PROCURE_OCDS_SCHEMAS",
}


# What the configuration reference documents (the entry point procure.settings:contracts).
OPTIONS = ServiceOptions("contracts", ContractsOptions, ENV_NAMES)


def options_from_env(environ: Mapping[str, str]) -> ContractsOptions:
    return OPTIONS.from_env(environ)
