"""Tokens and headers for tests that call the HTTP APIs."""

from __future__ import annotations

import uuid
from typing import Any

from procure_shared.http import Role, issue_token
from procure_shared.settings import Settings

__all__ = ["bearer", "keyed", "token"]

# The tests run in development mode (as make up does): the public development secret.
_DEFAULTS = Settings(service="tests", database_url="postgresql://unused/unused", dev_mode=True)


def token(
    *roles: Role, buyer: str | None = "dfe", settings: Settings = _DEFAULTS, **overrides: Any
) -> str:
    options: dict[str, Any] = {
        "secret": settings.signing_secret,
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
        "sub": "alice",
        "roles": roles,
        "buyer": buyer,
    } | overrides
    return issue_token(**options)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def keyed(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with a fresh Idempotency-Key, for a creating POST."""
    return headers | {"Idempotency-Key": str(uuid.uuid4())}
