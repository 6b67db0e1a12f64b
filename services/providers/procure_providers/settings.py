"""The providers service's own options, read from the environment once, in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from procure_shared.settings import ServiceOptions

__all__ = ["ENV_NAMES", "OPTIONS", "ProvidersOptions", "options_from_env"]


class ProvidersOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The providers service's options; each field's ``Meta`` description is its entry in
    docs/configuration.md."""

    notice_days: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=366,
            description="How many days before an accreditation ends its `expiring` notice "
            "goes out.",
        ),
    ] = 30
    expiry_scan_interval: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="How often (real seconds) the expiry watch looks for notices that "
            "have fallen due.",
        ),
    ] = 60.0
    eligibility_concurrency: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            description="Eligibility questions answered at once per process (the most in one "
            "batch).",
        ),
    ] = 32


ENV_NAMES = {
    "notice_days": "PROCURE_ACCREDITATION_NOTICE_DAYS",
    "expiry_scan_interval": "PROCURE_EXPIRY_SCAN_INTERVAL",
    "eligibility_concurrency": "PROCURE_ELIGIBILITY_CONCURRENCY",
}


# What the configuration reference documents (the entry point procure.settings:providers).
OPTIONS = ServiceOptions("providers", ProvidersOptions, ENV_NAMES)


def options_from_env(environ: Mapping[str, str]) -> ProvidersOptions:
    return OPTIONS.from_env(environ)
