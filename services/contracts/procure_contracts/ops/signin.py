"""``/ops/sign-in`` and ``/ops/sign-out`` (decisions 14 and 22).

Staff sign in through their organisation's OpenID Connect issuer with the authorization-code
flow and PKCE (S256): ``/ops/sign-in/start`` keeps a state, a nonce and a code verifier (in
``ops_sign_ins``; the state also in a cookie that binds the flow to this browser) and sends the
browser to the issuer; ``/ops/sign-in/callback`` checks the state, exchanges the code at the
issuer's token endpoint with the verifier, verifies the ID token with the issuer's published
keys (its audience is our client id, its nonce ours, its lifetime bounded) and maps its claims
to a principal as ``PROCURE_OIDC_ISSUERS`` says. The session then lives server-side
(``ops_sessions``); its cookie holds a random id, HttpOnly, SameSite=Lax (the issuer sends the
browser back with a cross-site navigation), Secure by configuration, sent only to ``/ops``.
Signing out ends the session at once. In development mode the form that takes a pasted bearer
token remains. Every refusal is a page that says why, with a 4xx status (503 when the issuer
cannot be reached)."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import jwt
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template

from procure_contracts.ops import sessions as ops_sessions
from procure_contracts.ops.common import COOKIE, OPS, PAGE_HEADERS, SignInConfig
from procure_contracts.ops.sessions import Session
from procure_shared.db.postgres import Pool
from procure_shared.http.auth import SKEW, BearerAuth
from procure_shared.http.oidc import DISCOVERY, IssuerKeys, claims_principal_parts
from procure_shared.service import Runtime

__all__ = ["SignInController"]

log = logging.getLogger("procure.ops")

PUBLIC = {"exclude_from_auth": True}
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Next = Annotated[str | None, QueryParameter(name="next", max_length=2000)]
Param = Annotated[str | None, QueryParameter(max_length=4000)]
State = Annotated[str | None, QueryParameter(name="state", max_length=4000)]

# The cookie that binds a sign-in under way to the browser that started it (its state).
FLOW_COOKIE = "procure_ops_flow"
FLOW_SECONDS = 600
CALLBACK = "/ops/sign-in/callback"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Discovery documents of the issuers signed in with: (fetched at, document).
_DISCOVERED: dict[str, tuple[float, dict[str, Any]]] = {}
_DISCOVERY_MAX_AGE = 3600.0


def _target(next_: str | None) -> str:
    """Back where the viewer was going: a dashboard page, never another site."""
    if (
        next_
        and next_.startswith("/ops")
        and not next_.startswith("/ops/sign-")
        and "\\" not in next_
    ):
        return next_
    return "/ops"


def _same_site(request: Request[Any, Any, Any]) -> bool:
    """A form posted from this site, not another one (login and logout CSRF): browsers say so
    in ``Sec-Fetch-Site``, older ones in ``Origin``."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _dev(request: Request[Any, Any, Any]) -> bool:
    return _runtime(request).settings.dev_mode


def _config(request: Request[Any, Any, Any]) -> SignInConfig:
    return OPS.of(request).sign_in


def _secure(request: Request[Any, Any, Any]) -> bool:
    chosen = _config(request).cookie_secure
    return (not _dev(request)) if chosen is None else chosen


def _issuer(request: Request[Any, Any, Any]) -> IssuerKeys | None:
    """The issuer staff sign in with; None when organisation sign-in is not configured."""
    config = _config(request)
    if config.client_id is None:
        return None
    auth: BearerAuth = request.app.state.auth
    if config.issuer is not None:
        return auth.issuers.get(config.issuer)
    if len(auth.issuers) == 1:
        return next(iter(auth.issuers.values()))
    return None


def _page(
    request: Request[Any, Any, Any],
    message: str | None,
    next_: str | None,
    status: int = 200,
) -> Template:
    issuer = _issuer(request)
    return Template(
        "ops/sign_in.html",
        context={
            "error": message,
            "next": _target(next_),
            "start": f"/ops/sign-in/start?next={quote(_target(next_), safe='')}",
            "paste": _dev(request),
            "organisation": issuer.config.issuer if issuer is not None else None,
        },
        headers=PAGE_HEADERS,
        status_code=status,
    )


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _trusted(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


class _IssuerDown(Exception):
    """The issuer cannot be reached, or its answer is not OpenID Connect's (503)."""


async def _discovery(client: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    known = _DISCOVERED.get(issuer)
    if known is not None and time.monotonic() - known[0] < _DISCOVERY_MAX_AGE:
        return known[1]
    try:
        answer = await client.get(issuer.rstrip("/") + DISCOVERY)
        answer.raise_for_status()
        found = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise _IssuerDown(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(found, dict) or found.get("issuer") != issuer:
        raise _IssuerDown(f"the discovery document is not {issuer}'s")
    for endpoint in ("authorization_endpoint", "token_endpoint"):
        if not _trusted(found.get(endpoint)):
            raise _IssuerDown(f"the discovery document's {endpoint} is not https")
    _DISCOVERED[issuer] = (time.monotonic(), found)
    return found


def _redirect_url(request: Request[Any, Any, Any]) -> str:
    chosen = _config(request).redirect_url
    return chosen or str(request.base_url).rstrip("/") + CALLBACK


def _signed_in(
    request: Request[Any, Any, Any], value: str, session: Session, next_: str
) -> Response[Any]:
    done: Response[Any] = Redirect(_target(next_), status_code=303, headers=PAGE_HEADERS)
    done.set_cookie(
        COOKIE,
        value,
        path="/ops",
        max_age=max(0, int(session.expires_at.timestamp() - time.time())),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    done.delete_cookie(FLOW_COOKIE, path="/ops/sign-in")
    return done


class SignInController(Controller):
    path = "/ops"
    include_in_schema = False
    opt = PUBLIC

    @get("/sign-in")
    async def form(self, request: Request[Any, Any, Any], next_: Next = None) -> Template:
        if _issuer(request) is None and not _dev(request):
            return _page(
                request,
                "Sign-in is not configured: the service needs PROCURE_OPS_OIDC_CLIENT_ID and "
                "an issuer in PROCURE_OIDC_ISSUERS.",
                next_,
                503,
            )
        return _page(request, None, next_)

    @post("/sign-in", status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """The pasted bearer token: development mode only."""
        next_ = data.get("next")
        if not _dev(request):
            return _page(
                request, "Signing in with a pasted token is for development only.", next_, 403
            )
        if not _same_site(request):
            return _page(request, "Sign in from this site's own form.", next_, 403)
        auth: BearerAuth = request.app.state.auth
        token = data.get("token", "").strip()
        try:
            verified = await auth.verify(token) if token else None
        except NotAuthorizedException as exc:
            return _page(request, f"That token was not accepted: {exc.detail}.", next_, 401)
        if verified is None:
            return _page(request, "Paste a bearer token to sign in.", next_, 400)
        who = verified.principal
        session = Session(
            subject=who.sub,
            roles=who.roles,
            buyer=who.buyer,
            issuer=f"pasted:{verified.claims.get('iss', '')}",
            expires_at=datetime.fromtimestamp(verified.expires, UTC),
        )
        value = await ops_sessions.start(request.app.state.pool, session)
        return _signed_in(request, value, session, next_ or "/ops")

    @get("/sign-in/start", status_code=303)
    async def start(self, request: Request[Any, Any, Any], next_: Next = None) -> Response[Any]:
        """To the issuer, with a new state, nonce and PKCE challenge."""
        keys = _issuer(request)
        if keys is None:
            return _page(request, "Organisation sign-in is not configured here.", next_, 404)
        config = _config(request)
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                found = await _discovery(client, keys.config.issuer)
        except _IssuerDown as exc:
            log.warning("the issuer cannot be reached", extra={"error": str(exc)})
            return _page(
                request, "The identity provider cannot be reached; try again shortly.", next_, 503
            )
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(24)
        pool: Pool = request.app.state.pool
        state = await ops_sessions.start_sign_in(pool, nonce, verifier, _target(next_))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": config.client_id,
                "redirect_uri": _redirect_url(request),
                "scope": config.scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": _challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = str(found["authorization_endpoint"])
        glue = "&" if "?" in endpoint else "?"
        away: Response[Any] = Redirect(
            f"{endpoint}{glue}{query}", status_code=303, headers=PAGE_HEADERS
        )
        away.set_cookie(
            FLOW_COOKIE,
            state,
            path="/ops/sign-in",
            max_age=FLOW_SECONDS,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )
        return away

    @get("/sign-in/callback")
    async def callback(
        self,
        request: Request[Any, Any, Any],
        code: Param = None,
        state_: State = None,
        error: Param = None,
        error_description: Param = None,
    ) -> Response[Any]:
        """Back from the issuer: the state checked, the code exchanged, the ID token verified,
        the session started."""
        keys = _issuer(request)
        if keys is None:
            return _page(request, "Organisation sign-in is not configured here.", None, 404)
        if error is not None:
            said = f" ({error_description})" if error_description else ""
            return _page(
                request, f"The identity provider did not sign you in: {error}{said}.", None, 401
            )
        state = state_
        if not code or not state:
            return _page(request, "The identity provider's answer has no code or state.", None, 400)
        mine = request.cookies.get(FLOW_COOKIE)
        if not mine or not secrets.compare_digest(mine.encode(), state.encode()):
            return _page(
                request,
                "This sign-in was not started from this browser (the state does not match); "
                "sign in again.",
                None,
                400,
            )
        pool: Pool = request.app.state.pool
        flow = await ops_sessions.take_sign_in(pool, state)
        if flow is None or not flow.fresh:
            return _page(
                request, "This sign-in has expired or was already used; sign in again.", None, 400
            )
        try:
            session = await self._exchange(request, keys, code, flow.verifier, flow.nonce)
        except _IssuerDown as exc:
            log.warning("the issuer cannot be reached", extra={"error": str(exc)})
            return _page(
                request,
                "The identity provider cannot be reached; try again shortly.",
                flow.next,
                503,
            )
        except HTTPException as exc:
            return _page(
                request,
                f"Sign-in refused: {exc.detail}.",
                flow.next,
                exc.status_code if exc.status_code < 500 else 503,
            )
        value = await ops_sessions.start(pool, session)
        return _signed_in(request, value, session, flow.next)

    async def _exchange(
        self,
        request: Request[Any, Any, Any],
        keys: IssuerKeys,
        code: str,
        verifier: str,
        nonce: str,
    ) -> Session:
        config = _config(request)
        client_id = str(config.client_id)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": _redirect_url(request),
            "code_verifier": verifier,
            "client_id": client_id,
        }
        basic: httpx.Auth | None = None
        if config.client_secret is not None:  # client_secret_basic; else a public client
            basic = httpx.BasicAuth(client_id, config.client_secret)
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
            found = await _discovery(client, keys.config.issuer)
            try:
                answer = await client.post(
                    str(found["token_endpoint"]), data=form, auth=basic or httpx.USE_CLIENT_DEFAULT
                )
            except httpx.HTTPError as exc:
                raise _IssuerDown(f"{type(exc).__name__}: {exc}") from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code >= 500 or not isinstance(body, dict):
            raise _IssuerDown(f"the token endpoint answered {answer.status_code}")
        if answer.status_code != 200:
            raise NotAuthorizedException(
                f"the identity provider refused the code ({body.get('error', 'no reason')})"
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise NotAuthorizedException("the identity provider sent no ID token")
        return await _verified_id_token(request, keys, id_token, client_id, nonce)

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        if not _same_site(request):
            return _page(request, "Sign out from this site's own page.", None, 403)
        value = request.cookies.get(COOKIE)
        if value:
            await ops_sessions.end(request.app.state.pool, value)
        done: Response[Any] = Redirect("/ops/sign-in", status_code=303, headers=PAGE_HEADERS)
        done.delete_cookie(COOKIE, path="/ops")
        return done


async def _verified_id_token(
    request: Request[Any, Any, Any], keys: IssuerKeys, id_token: str, client_id: str, nonce: str
) -> Session:
    """The session an ID token opens: signed with one of the issuer's published keys in an
    algorithm its entry allows, for our client id, with our nonce, within the lifetime bound,
    its claims mapped as the issuer's entry says (decision 21)."""
    auth: BearerAuth = request.app.state.auth
    try:
        header = jwt.get_unverified_header(id_token)
        key = await keys.key_for(header.get("kid"), header.get("alg"))
        claims = jwt.decode(
            id_token,
            key,
            algorithms=[key.algorithm_name],
            audience=client_id,
            issuer=keys.config.issuer,
            leeway=SKEW,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise NotAuthorizedException(f"the ID token is not valid: {exc}") from None
    said = claims.get("nonce")
    if not isinstance(said, str) or not secrets.compare_digest(said.encode(), nonce.encode()):
        raise NotAuthorizedException("the ID token's nonce is not this sign-in's")
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if lifetime > auth.max_lifetime:
        raise NotAuthorizedException(
            f"the ID token lives {lifetime / 3600:g} h, longer than the "
            f"{auth.max_lifetime / 3600:g} h this service accepts"
        )
    sub, roles, buyer = claims_principal_parts(keys.config, claims)
    return Session(
        subject=sub,
        roles=roles,
        buyer=buyer,
        issuer=keys.config.issuer,
        expires_at=datetime.fromtimestamp(float(claims["exp"]), UTC),
    )
