"""Bearer tokens (JWT) with ``sub``, ``roles`` and ``buyer``; audience, issuer and expiry are
checked. Roles, per the architecture: viewer, commercial, ops, admin (admin may do everything,
for every buyer)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from copy import copy
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jwt
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
    DefineMiddleware,
)
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Scope

from procure_shared.audit import Actor
from procure_shared.tokens import Role, issue_token

__all__ = [
    "PUBLIC_PATHS",
    "BearerAuth",
    "Principal",
    "Role",
    "issue_token",
    "requires",
    "token_cookie",
]

# Paths that need no token: probes, metrics, the API documents and their UI.
PUBLIC_PATHS = ["^/health/", "^/metrics$", "^/schema", "^/docs"]


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
    effective: frozenset[Role] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        effective = frozenset[Role]().union(*(_IMPLIED[r] for r in self.roles))
        object.__setattr__(self, "effective", effective)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def has_any(self, roles: Iterable[Role]) -> bool:
        return any(r in self.effective for r in roles)

    def as_actor(self) -> Actor:
        return Actor(id=self.sub, roles=tuple(sorted(self.roles)), buyer_id=self.buyer)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal | None:
    raw_roles = claims.get("roles")
    if not isinstance(raw_roles, list) or not raw_roles:
        return None
    try:
        roles = frozenset(Role(r) for r in raw_roles)
    except ValueError:
        return None
    sub = claims.get("sub")
    buyer = claims.get("buyer")
    if not isinstance(sub, str) or not sub or (buyer is not None and not isinstance(buyer, str)):
        return None
    if buyer is None and Role.ADMIN not in roles:
        return None  # every non-admin acts for a buyer
    return Principal(sub=sub, roles=roles, buyer=buyer)


class _Verified(NamedTuple):
    principal: Principal
    claims: Mapping[str, Any]
    expires: float
    starts: float | None


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """Bearer-token authentication: the token's signature (HS256), audience, issuer, expiry
    and not-before are checked, and its roles and buyer make the request's ``Principal``.

    A verified token is remembered per encoded token (clients send the same token with every
    request; verifying it again and building Litestar's ``Token`` cost a quarter of a simple
    GET); its expiry and not-before are checked again on every use."""

    secret: str
    issuer: str
    audience: str
    description: str = "A Procure bearer token (`procure token` makes development tokens)."
    scheme: str = "BearerToken"
    remembered: int = 4096
    _seen: OrderedDict[str, _Verified] = field(default_factory=OrderedDict)

    def verify(self, encoded: str) -> _Verified:
        known = self._seen.get(encoded)
        if known is None:
            known = self._decode(encoded)
            self._seen[encoded] = known
            if len(self._seen) > self.remembered:
                self._seen.popitem(last=False)
        now = time.time()
        if known.expires <= now:
            self._seen.pop(encoded, None)
            raise NotAuthorizedException("the token has expired")
        if known.starts is not None and known.starts > now:
            raise NotAuthorizedException("the token is not valid yet")
        return known

    def _decode(self, encoded: str) -> _Verified:
        try:
            claims = jwt.decode(
                encoded,
                self.secret,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as e:
            raise NotAuthorizedException(f"the token is not valid: {e}") from None
        principal = principal_from_claims(claims)
        if principal is None:
            raise NotAuthorizedException("the token carries no valid roles or buyer")
        starts = claims.get("nbf")
        return _Verified(
            principal,
            claims,
            float(claims["exp"]),
            float(starts) if isinstance(starts, int | float) else None,
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(
            0, DefineMiddleware(_BearerMiddleware, auth=self, exclude=PUBLIC_PATHS)
        )
        if app_config.openapi_config is not None:
            config = app_config.openapi_config = copy(app_config.openapi_config)
            scheme = SecurityScheme(
                type="http", scheme="Bearer", bearer_format="JWT", description=self.description
            )
            components = Components(security_schemes={self.scheme: scheme})
            if isinstance(config.components, list):
                config.components.append(components)
            else:
                config.components = [components, config.components]
        return app_config


class _BearerMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, auth: BearerAuth, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self.auth = auth

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        encoded = _bearer(connection.scope)
        cookie: str | None = connection.scope["route_handler"].opt.get(_COOKIE)
        if encoded is None and cookie is not None:
            encoded = connection.cookies.get(cookie) or None
        if encoded is None:
            raise NotAuthorizedException("a bearer token is required (Authorization: Bearer ...)")
        verified = self.auth.verify(encoded)
        _check_roles(verified.principal, connection.scope)
        return AuthenticationResult(user=verified.principal, auth=verified.claims)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, encoded = value.decode("latin-1").partition(" ")
            if kind.lower() == "bearer" and encoded.strip():
                return encoded.strip()
            return None
    return None


_ROLES = "roles"
_COOKIE = "token_cookie"


def requires(*roles: Role) -> dict[str, Any]:
    """The roles a route needs, as the ``opt`` of a handler, controller or router: the token
    must carry one of them (admin always passes). A handler's ``opt`` overrides its
    controller's. The authentication middleware checks them (Litestar's guards cost a copy of
    the route handler per guard per request)."""
    return {_ROLES: frozenset(roles)}


def token_cookie(name: str) -> dict[str, Any]:
    """Also take the token from the cookie ``name`` when no Authorization header came, as the
    ``opt`` of the routes a browser navigates to (it cannot send a bearer header). Only for
    routes that change nothing: a cookie rides along with requests other sites make."""
    return {_COOKIE: name}


def _check_roles(principal: Principal, scope: Scope) -> None:
    roles: frozenset[Role] | None = scope["route_handler"].opt.get(_ROLES)
    if roles and not principal.has_any(roles):
        wanted = sorted(r.value for r in roles | {Role.ADMIN})
        if wanted == [Role.ADMIN.value]:
            raise PermissionDeniedException("this needs the role admin")
        raise PermissionDeniedException(f"this needs one of the roles: {', '.join(wanted)}")
