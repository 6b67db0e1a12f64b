"""``/ops/sign-in`` and ``/ops/sign-out``: a browser cannot send a bearer header when it
navigates, so the dashboard takes the token once, in a form, and keeps it in an HttpOnly,
SameSite=Strict cookie sent only to ``/ops`` (decision 14). The token is checked as the API
checks it (signature, audience, issuer, expiry, roles, buyer); the cookie lives no longer than
the token, and the pages it opens only read."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template

from procure_contracts.api.ops.common import COOKIE, PAGE_HEADERS
from procure_shared.http.auth import BearerAuth

__all__ = ["SignInController"]

PUBLIC = {"exclude_from_auth": True}
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Next = Annotated[str | None, QueryParameter(name="next", max_length=2000)]


def _target(next_: str | None) -> str:
    """Back where the viewer was going: a dashboard page, never another site."""
    if next_ and next_.startswith("/ops") and not next_.startswith("/ops/sign-"):
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


def _form(message: str | None, next_: str | None, status: int = 200) -> Template:
    return Template(
        "ops/sign_in.html",
        context={"error": message, "next": _target(next_)},
        headers=PAGE_HEADERS,
        status_code=status,
    )


class SignInController(Controller):
    path = "/ops"
    include_in_schema = False
    opt = PUBLIC

    @get("/sign-in")
    async def form(self, next_: Next = None) -> Template:
        return _form(None, next_)

    @post("/sign-in", status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        next_ = data.get("next")
        if not _same_site(request):
            return _form("Sign in from this site's own form.", next_, 403)
        auth: BearerAuth = request.app.state.auth
        token = data.get("token", "").strip()
        try:
            verified = await auth.verify(token) if token else None
        except NotAuthorizedException as exc:
            return _form(f"That token was not accepted: {exc.detail}.", next_, 401)
        if verified is None:
            return _form("Paste a bearer token to sign in.", next_, 400)
        done: Response[Any] = Redirect(_target(next_), status_code=303, headers=PAGE_HEADERS)
        done.set_cookie(
            COOKIE,
            token,
            path="/ops",
            max_age=max(0, int(verified.expires - time.time())),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return done

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        if not _same_site(request):
            return _form("Sign out from this site's own page.", None, 403)
        done: Response[Any] = Redirect("/ops/sign-in", status_code=303, headers=PAGE_HEADERS)
        done.delete_cookie(COOKIE, path="/ops")
        return done
