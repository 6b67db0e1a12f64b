"""The providers service's own options, read from the environment once, in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from procure_shared.settings import read_options

__all__ = ["ENV_NAMES", "ProvidersOptions", "options_from_env"]


class ProvidersOptions(msgspec.Struct, frozen=True, kw_only=True):
    # How many days before an accreditation ends its ``expiring`` notice goes out.
    notice_days: Annotated[int, msgspec.Meta(ge=0, le=366)] = 30
    # How often (real seconds) the expiry watch looks for notices that have fallen due.
    expiry_scan_interval: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    # Eligibility questions answered at once per process (the most in one batch).
    eligibility_concurrency: Annotated[int, msgspec.Meta(ge=1)] = 32


ENV_NAMES = {
    "notice_days": "PROCURE_ACCREDITATION_NOTICE_DAYS",
    "expiry_scan_interval": "PROCURE_EXPIRY_SCAN_INTERVAL",
    "eligibility_concurrency": "PROCURE_ELIGIBILITY_CONCURRENCY",
}


def options_from_env(environ: Mapping[str, str]) -> ProvidersOptions:
    return read_options(ProvidersOptions, ENV_NAMES, environ)
