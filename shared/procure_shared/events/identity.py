"""Identity's own events (``identity.*``, stream ``IDENTITY``): revocations of bearer tokens,
which an admin makes through the contracts service's ``/v1/revocations`` and every service
follows (``procure_shared.revocations``). They carry no ``buyerid`` and reach no subscriber."""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = ["SubjectRevoked", "TokenRevoked"]


class TokenRevoked(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``identity.token.revoked``: the token with this id (``jti``) is refused from now on."""

    jti: str
    revoked_by: str
    revoked_at: datetime
    reason: str | None = None


class SubjectRevoked(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``identity.subject.revoked``: every token of this subject (``sub``, as the issuer's
    entry maps it) issued before ``issuedBefore`` is refused from now on."""

    subject: str
    issued_before: datetime
    revoked_by: str
    revoked_at: datetime
    reason: str | None = None
