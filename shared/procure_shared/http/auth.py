"""Bearer tokens (JWT) with ``sub``, ``roles`` and ``buyer``; audience, issuer and expiry are
checked. Roles, per the architecture: viewer, commercial, ops, admin (admin may do everything,
for every buyer)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token
from litestar.types import Guard

from procure_shared.audit import Actor

__all__ = ["PUBLIC_PATHS", "Principal", "Role", "issue_token", "jwt_auth", "requires"]

# Paths that need no token: probes, metrics, the API documents and their UI.
PUBLIC_PATHS = ["^/health/", "^/metrics$", "^/schema", "^/docs"]


class Role(StrEnum):
    VIEWER = "viewer"
    COMMERCIAL = "commercial"
    OPS = "ops"
    ADMIN = "admin"


# commercial and ops may do what a viewer may, plus their own; admin may do everything.
_IMPLIED: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.COMMERCIAL: frozenset({Role.COMMERCIAL, Role.VIEWER}),
    Role.OPS: frozenset({Role.OPS, Role.VIEWER}),
    Role.ADMIN: frozenset(Role),
}


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    roles: frozenset[Role]
    buyer: str | None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def has_any(self, roles: Iterable[Role]) -> bool:
        effective = frozenset().union(*(_IMPLIED[r] for r in self.roles))
        return any(r in effective for r in roles)

    def as_actor(self) -> Actor:
        return Actor(id=self.sub, roles=tuple(sorted(self.roles)), buyer_id=self.buyer)


def principal_from_token(token: Token) -> Principal | None:
    raw_roles = token.extras.get("roles")
    if not isinstance(raw_roles, list) or not raw_roles:
        return None
    try:
        roles = frozenset(Role(r) for r in raw_roles)
    except ValueError:
        return None
    buyer = token.extras.get("buyer")
    if buyer is not None and not isinstance(buyer, str):
        return None
    if buyer is None and Role.ADMIN not in roles:
        return None  # every non-admin acts for a buyer
    return Principal(sub=token.sub, roles=roles, buyer=buyer)


async def _retrieve(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = principal_from_token(token)
    if principal is None:
        raise NotAuthorizedException("the token carries no valid roles or buyer")
    return principal


class _VerifiedToken(Token):
    """A token whose signature, audience and issuer checks are remembered per encoded token
    (clients send the same token with every request; verifying it again cost a fifth of a
    simple GET). Expiry and not-before are checked on every use."""

    _seen: ClassVar[OrderedDict[tuple[Any, ...], Any]] = OrderedDict()
    _SIZE: ClassVar[int] = 4096

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: Any = None,
    ) -> Any:
        key = (
            encoded_token,
            secret,
            tuple(algorithms),
            issuer if isinstance(issuer, str | None) else tuple(issuer),
            audience if isinstance(audience, str | None) else tuple(audience),
            tuple(
                (name, tuple(value) if isinstance(value, list) else value)
                for name, value in sorted((options or {}).items())
            ),
        )
        payload = cls._seen.get(key)
        if payload is None:
            payload = super().decode_payload(
                encoded_token, secret, algorithms, issuer, audience, options
            )
            cls._seen[key] = payload
            if len(cls._seen) > cls._SIZE:
                cls._seen.popitem(last=False)
            return dict(payload)  # the caller rearranges what it gets
        now = time.time()
        checks = options or {}
        expiry = payload.get("exp")
        if checks.get("verify_exp", True) and isinstance(expiry, int | float) and expiry <= now:
            cls._seen.pop(key, None)
            raise jwt.ExpiredSignatureError("Signature has expired")
        start = payload.get("nbf")
        if checks.get("verify_nbf", True) and isinstance(start, int | float) and start > now:
            raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
        return dict(payload)


def jwt_auth(*, secret: str, issuer: str, audience: str) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        token_cls=_VerifiedToken,
        token_secret=secret,
        retrieve_user_handler=_retrieve,
        accepted_audiences=[audience],
        accepted_issuers=[issuer],
        require_claims=["exp", "sub", "iss", "aud"],
        verify_expiry=True,
        exclude=PUBLIC_PATHS,
        description="A Procure bearer token (`procure token` makes development tokens).",
    )


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
) -> str:
    # Token expiry is checked against real time by the JWT library, never the demo clock.
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": issuer,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "roles": sorted(Role(r).value for r in roles),
    }
    if buyer is not None:
        claims["buyer"] = buyer
    # Top-level claims, as any issuer would write them (Litestar's Token nests extras).
    return jwt.encode(claims, secret, algorithm="HS256")


def requires(*roles: Role) -> Guard:
    """A guard: the token must carry one of ``roles`` (admin always passes)."""

    # Async: Litestar would run a sync guard in a worker thread, on every request.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.user
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("a bearer token is required")
        if not principal.has_any(roles):
            wanted = ", ".join(r.value for r in roles)
            raise PermissionDeniedException(f"this needs one of the roles: {wanted} (or admin)")

    return guard
