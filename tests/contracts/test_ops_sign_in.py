"""Organisation sign-in to the ops dashboard (decision 22): the authorization-code flow with
PKCE against the local OpenID Connect issuer (``tests.support.oidc_issuer``, on loopback),
followed by hand over HTTP; the state, the verifier and the cookie's attributes; sign-out
ending the server-side session at once; the pasted token only in development mode."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest
from prometheus_client import CollectorRegistry

from procure_contracts.app import definition
from procure_contracts.settings import ContractsOptions
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.service import Runtime, build_app
from procure_shared.settings import OidcIssuer
from tests.support.auth import token
from tests.support.oidc_issuer import LocalIssuer, local_issuer

SITE = "https://testserver"
CALLBACK = f"{SITE}/ops/sign-in/callback"
CLIENT = "procure-ops"
STAFF = {"sub": "olivia@dfe.example", "roles": ["ops"], "buyer": "dfe"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with local_issuer(user=dict(STAFF)) as running:
        running.register_app(CLIENT, CALLBACK)
        yield running


@asynccontextmanager
async def dashboard(
    crt: Runtime, issuer: LocalIssuer, *, dev_mode: bool = True, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The contracts app trusting the local issuer and signing staff in with it."""
    entry = msgspec.convert(issuer.entry(buyerClaim="buyer"), OidcIssuer)
    settings = msgspec.structs.replace(crt.settings, oidc_issuers=(entry,), dev_mode=dev_mode)
    secret = issuer.clients[CLIENT].secret
    chosen = {
        "ops_oidc_client_id": CLIENT,
        "ops_oidc_client_secret": secret,
        "eligibility_timeout": 1.0,
    } | options
    runtime = dataclasses.replace(crt, settings=settings, registry=CollectorRegistry())
    app = build_app(definition(ContractsOptions(**chosen)), runtime)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url=SITE) as http:
        yield http


async def to_issuer(http: httpx.AsyncClient, next_: str = "/ops") -> str:
    """The dashboard's start of a sign-in: where it sends the browser."""
    away = await http.get("/ops/sign-in/start", params={"next": next_})
    assert away.status_code == 303, away.text
    return away.headers["location"]


async def authorize(location: str) -> str:
    """The issuer's answer to the browser: the callback URL with the code and the state."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(location)
    assert answer.status_code == 302, answer.text
    back: str = answer.headers["location"]
    assert back.startswith(CALLBACK)
    return back


async def signed_in(http: httpx.AsyncClient, next_: str = "/ops") -> httpx.Response:
    back = await authorize(await to_issuer(http, next_))
    return await http.get(back.removeprefix(SITE))


async def test_staff_sign_in_through_the_issuer_with_the_code_flow_and_pkce_end_to_end(
    crt: Runtime, issuer: LocalIssuer, cpool: Pool
) -> None:
    async with dashboard(crt, issuer) as http:
        away = await http.get("/ops", params={"rag": "red"})
        assert away.headers["location"] == "/ops/sign-in?next=%2Fops%3Frag%3Dred"
        page = await http.get("/ops/sign-in", params={"next": "/ops?rag=red"})
        assert "Sign in with your organisation" in page.text
        assert "/ops/sign-in/start?next=%2Fops%3Frag%3Dred" in page.text

        location = await to_issuer(http, "/ops?rag=red")
        sent = parse_qs(urlsplit(location).query)
        assert location.startswith(f"{issuer.url}/authorize?")
        assert sent["response_type"] == ["code"]
        assert sent["client_id"] == [CLIENT]
        assert sent["redirect_uri"] == [CALLBACK]
        assert sent["code_challenge_method"] == ["S256"]
        assert len(sent["code_challenge"][0]) == 43
        assert sent["state"]
        assert sent["nonce"]
        assert "openid" in sent["scope"][0].split()

        back = await authorize(location)
        done = await http.get(back.removeprefix(SITE))
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/ops?rag=red"
        opened = await http.get("/ops")
        assert opened.status_code == 200
        assert "olivia@dfe.example" in opened.text
        # The cookie holds a session's id, not a token; the server keeps who it is.
        value = http.cookies["procure_ops"]
        assert value.count(".") == 0
        row = await cpool.fetchrow(
            "SELECT subject, roles, buyer_id, issuer FROM ops_sessions "
            "ORDER BY started_at DESC LIMIT 1"
        )
        assert row is not None
        assert dict(row) == {
            "subject": "olivia@dfe.example",
            "roles": ["ops"],
            "buyer_id": "dfe",
            "issuer": issuer.url,
        }
        audited = await cpool.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'ops.signed_in' "
            "AND actor = 'olivia@dfe.example'"
        )
        assert audited >= 1
        # The code was used once: the same callback again is refused, clearly.
        again = await http.get(back.removeprefix(SITE))
        assert again.status_code == 400
        assert 'role="alert"' in again.text


async def test_a_wrong_state_or_a_missing_pkce_verifier_is_refused_with_a_clear_4xx(
    crt: Runtime, issuer: LocalIssuer
) -> None:
    async with dashboard(crt, issuer) as http:
        back = await authorize(await to_issuer(http))
        code = parse_qs(urlsplit(back).query)["code"][0]
        wrong = await http.get("/ops/sign-in/callback", params={"code": code, "state": "forged"})
        assert wrong.status_code == 400
        assert "the state does not match" in wrong.text
        assert "procure_ops=" not in wrong.headers.get("set-cookie", "")
        # A callback the browser did not start (no flow cookie: login CSRF) is refused too.
        async with dashboard(crt, issuer) as stranger:
            other = await stranger.get(back.removeprefix(SITE))
            assert other.status_code == 400
        missing = await http.get("/ops/sign-in/callback", params={"state": "x"})
        assert missing.status_code == 400
        denied = await http.get(
            "/ops/sign-in/callback", params={"error": "access_denied", "state": "x"}
        )
        assert denied.status_code == 401
        assert "access_denied" in denied.text

    # The issuer redeems a code only with the verifier of its challenge.
    async with dashboard(crt, issuer) as http:
        back = await authorize(await to_issuer(http))
        code = parse_qs(urlsplit(back).query)["code"][0]
        secret = issuer.clients[CLIENT].secret
        assert secret is not None
        async with httpx.AsyncClient(auth=(CLIENT, secret)) as client:
            form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
            refused = await client.post(f"{issuer.url}/token", data=form)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
        # The code is spent: the dashboard's own exchange is refused as well, clearly.
        spent = await http.get(back.removeprefix(SITE))
        assert spent.status_code == 401
        assert "refused the code (invalid_grant)" in spent.text


async def test_the_session_cookie_is_http_only_lax_and_secure_as_configured(
    crt: Runtime, issuer: LocalIssuer
) -> None:
    async def cookie_of(**options: Any) -> str:
        async with dashboard(crt, issuer, **options) as http:
            done = await signed_in(http)
            assert done.status_code == 303, done.text
            return next(
                c for c in done.headers.get_list("set-cookie") if c.startswith("procure_ops=")
            )

    development = await cookie_of()  # development mode: not Secure unless asked
    assert "HttpOnly" in development
    assert "samesite=lax" in development.lower()
    assert "Path=/ops" in development
    assert "Secure" not in development
    assert "Secure" in await cookie_of(ops_cookie_secure=True)
    async with dashboard(crt, issuer, dev_mode=False) as http:  # a deployment: Secure
        away = await http.get("/ops/sign-in/start")
        assert "Secure" in away.headers["set-cookie"]
        done = await http.get((await authorize(away.headers["location"])).removeprefix(SITE))
        assert "Secure" in done.headers["set-cookie"]


async def test_after_sign_out_the_old_session_cookie_gets_401(
    crt: Runtime, issuer: LocalIssuer, cpool: Pool
) -> None:
    async with dashboard(crt, issuer) as http:
        assert (await signed_in(http)).status_code == 303
        old = http.cookies["procure_ops"]
        assert (await http.get("/ops")).status_code == 200
        out = await http.post("/ops/sign-out")
        assert out.status_code == 303
        assert await cpool.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'ops.signed_out' "
            "AND actor = 'olivia@dfe.example'"
        )
    async with dashboard(crt, issuer) as replay:  # the old cookie, kept by someone
        replay.cookies.set("procure_ops", old, domain="testserver", path="/ops")
        live = await replay.get("/ops/events")
        assert live.status_code == 401
        assert live.headers["content-type"].startswith("application/problem+json")
        page = await replay.get("/ops")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/ops/sign-in")


async def test_a_pasted_token_signs_in_only_in_development_mode(
    crt: Runtime, issuer: LocalIssuer
) -> None:
    async with dashboard(crt, issuer, dev_mode=False) as http:
        form = await http.get("/ops/sign-in")
        assert 'name="token"' not in form.text
        refused = await http.post("/ops/sign-in", data={"token": token(Role.VIEWER)})
        assert refused.status_code == 403
        assert "development only" in refused.text
    async with dashboard(crt, issuer, dev_mode=False, ops_oidc_client_id=None) as http:
        nothing = await http.get("/ops/sign-in")
        assert nothing.status_code == 503
        assert "PROCURE_OPS_OIDC_CLIENT_ID" in nothing.text
