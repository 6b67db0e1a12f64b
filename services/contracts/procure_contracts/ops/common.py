"""What the ops pages share: their settings, the viewer and what they may look at, the
session cookie, the page headers, and sign-in for a browser that has none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.response import Redirect

from procure_contracts.ops import sessions as ops_sessions
from procure_contracts.ops.store import Scope
from procure_shared.http import Principal, Role, requires
from procure_shared.http.auth import token_cookie
from procure_shared.http.domain import RouteConstant, now, principal

__all__ = [
    "COOKIE",
    "OPS",
    "PAGE_HEADERS",
    "SEEN",
    "OpsConfig",
    "SignInConfig",
    "scope_of",
    "to_sign_in",
    "today",
]

# The session cookie of the dashboard: a server-side session's id (never a token), HttpOnly,
# SameSite=Lax, Secure by configuration, sent only to /ops (decisions 14 and 22).
COOKIE = "procure_ops"


async def _session(
    connection: ASGIConnection[Any, Any, Any, Any], value: str
) -> tuple[Principal, Mapping[str, Any]]:
    """The live session the cookie names; 401 when it is unknown, expired or signed out."""
    found = await ops_sessions.find(connection.app.state.pool, value)
    if found is None:
        raise NotAuthorizedException("the session has ended; sign in again")
    principal = Principal(sub=found.subject, roles=found.roles, buyer=found.buyer)
    return principal, {"sub": found.subject, "exp": found.expires_at.timestamp()}


# The viewer role and up may see the dashboard, with a token in the header or a session cookie.
SEEN = requires(Role.VIEWER) | token_cookie(COOKIE, session=_session)

# Every asset is this service's own; nothing else loads, nothing frames the pages.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True, slots=True)
class SignInConfig:
    """Organisation sign-in (the authorization-code flow with PKCE, decision 22)."""

    issuer: str | None = None  # an issuer of PROCURE_OIDC_ISSUERS; None: the only one
    client_id: str | None = None  # None: no organisation sign-in
    client_secret: str | None = None
    redirect_url: str | None = None  # None: built from the request
    scope: str = "openid profile email"
    cookie_secure: bool | None = None  # None: Secure unless in development mode


@dataclass(frozen=True, slots=True)
class OpsConfig:
    due_soon_days: int = 14
    sign_in: SignInConfig = field(default_factory=SignInConfig)


OPS = RouteConstant[OpsConfig]("contracts_ops")


def today(request: Request[Any, Any, Any]) -> date:
    """The service clock's date: what is overdue is due before it."""
    return now(request).date()


def scope_of(
    request: Request[Any, Any, Any],
    *,
    buyer: str | None = None,
    provider: str | None = None,
    status: str | None = None,
    days: int | None = None,
) -> Scope:
    """What the viewer looks at: its buyer's contracts; an admin, every buyer's or the one it
    chose."""
    user: Principal = principal(request)
    return Scope(
        buyer=(buyer or None) if user.is_admin else user.buyer,
        today=today(request),
        days=days or OPS.of(request).due_soon_days,
        provider=provider or None,
        status=status or None,
    )


def to_sign_in(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """A page asked for without a (valid) token: the sign-in form, then back here."""
    del exc
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/ops/sign-in?next={quote(target, safe='')}", status_code=303)
