"""The contracts service's own options, read from the environment once, in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

import msgspec

from procure_contracts.usecases.context import Rules
from procure_shared.settings import read_options

__all__ = ["ENV_NAMES", "ContractsOptions", "buyer_names", "options_from_env"]


class ContractsOptions(msgspec.Struct, frozen=True, kw_only=True):
    # The share of a contract's original value past which the net cumulative value of its
    # amendments flags the contract.
    amendment_threshold: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.10
    # Seconds an award waits for the providers service's eligibility answer.
    eligibility_timeout: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.0
    # How many days before its due date a milestone is due soon: the monitor's notice and
    # the ops dashboard's window (unless a page asks for another).
    milestone_lead_days: Annotated[int, msgspec.Meta(ge=0, le=366)] = 14
    # How often (real seconds) the milestone monitor looks for what has fallen due.
    milestone_scan_interval: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    # The providers service's HTTP API (its base URL), where OCDS imports find and register
    # suppliers; unset: imports answer 503.
    providers_url: str | None = None
    # OCDS: the prefix of our ocids (register one with the Open Contracting Partnership), the
    # publisher's name in packages, the buyers' names ("dfe=Department for Education;..."),
    # and the folder of the OCDS schemas (default: ../shared/data/ocds/schema beside the repo).
    ocid_prefix: Annotated[str, msgspec.Meta(pattern=r"^ocds-[a-z0-9]+$")] = "ocds-procure"
    ocds_publisher: str = "Procure"
    buyer_names: str = ""
    ocds_schemas: str | None = None

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


def options_from_env(environ: Mapping[str, str]) -> ContractsOptions:
    return read_options(ContractsOptions, ENV_NAMES, environ)
