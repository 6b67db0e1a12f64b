"""Bearer tokens (JWT): HS256 tokens with ``sub``, ``roles`` and ``buyer`` signed with the
shared secret, and RS256/ES256 access tokens of the OpenID Connect issuers the settings trust,
whose claims each issuer's entry maps (``oidc.py``). Signature, audience, issuer, expiry and
lifetime are checked. Roles, per the architecture: viewer, commercial, ops, admin (admin may
do everything, for every buyer)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
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

from procure_shared.db.audit import Actor
from procure_shared.http.oidc import IssuerKeys, claims_principal_parts
from procure_shared.revocations import Revocations
from procure_shared.settings import Settings
from procure_shared.tokens import Role, issue_token

__all__ = [
    "PUBLIC_PATHS",
    "BearerAuth",
    "CookieSession",
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
    issued: float
    jti: str | None


# Seconds of clock difference allowed between an issuer and us for ``iat`` and ``nbf`` (an
# identity provider's clock is not ours); expiry is checked exactly, on every use.
SKEW = 30.0
# The only algorithm of the shared secret.
_HS256 = "HS256"


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """Bearer-token authentication. A token signed with HS256 is checked against ``secret``
    (None: none is accepted) and must name ``issuer``; any other is an OpenID Connect
    issuer's: its ``iss`` must be one of ``issuers``, its key one of that issuer's published
    keys and its algorithm that key's. Every token must name ``audience`` (an issuer may name
    its own), carry ``exp`` and ``iat`` no more than ``max_lifetime`` seconds apart, and make
    a ``Principal`` (roles and buyer), and must not be one of ``revocations`` (its ``jti``,
    or its subject's tokens issued before a time).

    A verified token is remembered per encoded token (clients send the same token with every
    request; verifying it again and building Litestar's ``Token`` cost a quarter of a simple
    GET, and an RS256 signature much more); its expiry and not-before are checked again on
    every use, and so are the revocations."""

    secret: str | None
    issuer: str
    audience: str
    max_lifetime: float = 12 * 3600
    issuers: Mapping[str, IssuerKeys] = field(default_factory=dict)
    revocations: Revocations | None = None
    description: str = (
        "A Procure bearer token: an access token of a trusted OpenID Connect issuer, or an "
        "HS256 token (`procure token` makes development tokens)."
    )
    scheme: str = "BearerToken"
    remembered: int = 4096
    _seen: OrderedDict[str, _Verified] = field(default_factory=OrderedDict)

    @classmethod
    def from_settings(
        cls, settings: Settings, revocations: Revocations | None = None
    ) -> BearerAuth:
        return cls(
            secret=settings.signing_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime=settings.jwt_max_lifetime,
            issuers={
                i.issuer: IssuerKeys(
                    i,
                    refresh_interval=settings.oidc_refresh_interval,
                    keys_max_age=settings.oidc_keys_max_age,
                )
                for i in settings.oidc_issuers or ()
            },
            revocations=revocations,
        )

    async def verify(self, encoded: str) -> _Verified:
        known = self._seen.get(encoded)
        if known is None:
            known = await self._decode(encoded)
            self._seen[encoded] = known
            if len(self._seen) > self.remembered:
                self._seen.popitem(last=False)
        now = time.time()
        if known.expires <= now:
            self._seen.pop(encoded, None)
            raise NotAuthorizedException("the token has expired")
        if known.starts is not None and known.starts > now + SKEW:
            raise NotAuthorizedException("the token is not valid yet")
        if self.revocations is not None:
            refusal = self.revocations.refusal(known.principal.sub, known.jti, known.issued)
            if refusal is not None:
                raise NotAuthorizedException(refusal)
        return known

    async def _decode(self, encoded: str) -> _Verified:
        try:
            header = jwt.get_unverified_header(encoded)
            if header.get("alg") == _HS256:
                claims = self._decode_hs256(encoded)
                principal = principal_from_claims(claims)
                if principal is None:
                    raise NotAuthorizedException("the token carries no valid roles or buyer")
                jti = claims.get("jti")
            else:
                claims, principal, jti = await self._decode_oidc(encoded, header)
        except jwt.PyJWTError as e:
            raise NotAuthorizedException(f"the token is not valid: {e}") from None
        lifetime = float(claims["exp"]) - float(claims["iat"])
        if lifetime > self.max_lifetime:
            raise NotAuthorizedException(
                f"the token lives {lifetime / 3600:g} h, longer than the "
                f"{self.max_lifetime / 3600:g} h this service accepts"
            )
        starts = claims.get("nbf")
        return _Verified(
            principal,
            claims,
            float(claims["exp"]),
            float(starts) if isinstance(starts, int | float) else None,
            float(claims["iat"]),
            jti if isinstance(jti, str) else None,
        )

    def _decode_hs256(self, encoded: str) -> dict[str, Any]:
        if self.secret is None:
            raise NotAuthorizedException("HS256 tokens are not accepted here")
        return jwt.decode(
            encoded,
            self.secret,
            algorithms=[_HS256],
            audience=self.audience,
            issuer=self.issuer,
            leeway=SKEW,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )

    async def _decode_oidc(
        self, encoded: str, header: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Principal, object]:
        """The verified claims, their principal and the token's id (the entry's claim)."""
        unverified = jwt.decode(encoded, options={"verify_signature": False})
        named = unverified.get("iss")
        keys = self.issuers.get(named) if isinstance(named, str) else None
        if keys is None:
            raise NotAuthorizedException(f"the token's issuer {named!r} is not trusted here")
        key = await keys.key_for(header.get("kid"), header.get("alg"))
        config = keys.config
        claims = jwt.decode(
            encoded,
            key,
            algorithms=[key.algorithm_name],
            audience=config.audience or self.audience,
            issuer=config.issuer,
            leeway=SKEW,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
        sub, roles, buyer = claims_principal_parts(config, claims)
        return (
            claims,
            Principal(sub=sub, roles=roles, buyer=buyer),
            claims.get(config.token_id_claim),
        )

    async def close(self) -> None:
        for keys in self.issuers.values():
            await keys.close()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.on_shutdown = [*app_config.on_shutdown, self.close]
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
        opt = connection.scope["route_handler"].opt
        cookie: str | None = opt.get(_COOKIE)
        if encoded is None and cookie is not None:
            encoded = connection.cookies.get(cookie) or None
            session: CookieSession | None = opt.get(_SESSION)
            if encoded is not None and session is not None:
                principal, claims = await session(connection, encoded)
                _check_roles(principal, connection.scope)
                return AuthenticationResult(user=principal, auth=claims)
        if encoded is None:
            raise NotAuthorizedException("a bearer token is required (Authorization: Bearer ...)")
        verified = await self.auth.verify(encoded)
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
_SESSION = "cookie_session"

# What a session cookie's value stands for: its principal and claims (``exp`` at least), or
# NotAuthorizedException (an unknown, expired or ended session).
CookieSession = Callable[
    [ASGIConnection[Any, Any, Any, Any], str], Awaitable[tuple[Principal, Mapping[str, Any]]]
]


def requires(*roles: Role) -> dict[str, Any]:
    """The roles a route needs, as the ``opt`` of a handler, controller or router: the token
    must carry one of them (admin always passes). A handler's ``opt`` overrides its
    controller's. The authentication middleware checks them (Litestar's guards cost a copy of
    the route handler per guard per request)."""
    return {_ROLES: frozenset(roles)}


def token_cookie(name: str, session: CookieSession | None = None) -> dict[str, Any]:
    """Also take the token from the cookie ``name`` when no Authorization header came, as the
    ``opt`` of the routes a browser navigates to (it cannot send a bearer header). Only for
    routes that change nothing: a cookie rides along with requests other sites make. With
    ``session``, the cookie holds no token but a session's id, which ``session`` resolves
    (server-side sessions, which signing out ends at once)."""
    return {_COOKIE: name} | ({_SESSION: session} if session is not None else {})


def _check_roles(principal: Principal, scope: Scope) -> None:
    roles: frozenset[Role] | None = scope["route_handler"].opt.get(_ROLES)
    if roles and not principal.has_any(roles):
        wanted = sorted(r.value for r in roles | {Role.ADMIN})
        if wanted == [Role.ADMIN.value]:
            raise PermissionDeniedException("this needs the role admin")
        raise PermissionDeniedException(f"this needs one of the roles: {', '.join(wanted)}")
