"""Roles and the signing of bearer tokens (JWT): what the ``procure`` command and the
development stack need of tokens, without the HTTP framework that verifies them
(``procure_shared.http.auth``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

__all__ = ["Role", "issue_token"]


class Role(StrEnum):
    VIEWER = "viewer"
    COMMERCIAL = "commercial"
    OPS = "ops"
    ADMIN = "admin"


def issue_token(
    *,
    secret: str,
    issuer: str,
    audience: str,
    sub: str,
    roles: Iterable[Role],
    buyer: str | None,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    jti: str | None = None,
) -> str:
    """A token; its id (``jti``, by which an admin may revoke it) is random unless given."""
    # Token expiry is checked against real time by the JWT library, never the demo clock.
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": issuer,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "roles": sorted(Role(r).value for r in roles),
        "jti": jti or str(uuid.uuid4()),
    }
    if buyer is not None:
        claims["buyer"] = buyer
    # Top-level claims, as any issuer would write them (Litestar's Token nests extras).
    return jwt.encode(claims, secret, algorithm="HS256")
