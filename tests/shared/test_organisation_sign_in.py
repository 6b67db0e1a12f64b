"""Identity fails closed, and organisations sign in through their OpenID Connect issuer: a
service without a secret or an issuer refuses to start; access tokens of a trusted issuer (the
local one of ``tests.support.oidc_issuer``, on loopback, with its own keys) are accepted when
they are RS256 or ES256 and everything checks, and refused otherwise; a key rotation at the
issuer is followed without letting made-up key ids hammer it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from litestar.exceptions import NotAuthorizedException
from nats.aio.client import Client
from nats.js import JetStreamContext
from procure_tools.devstack import free_port

from procure_providers.app import definition
from procure_shared.clock import SystemClock
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.http.auth import BearerAuth
from procure_shared.messaging.nats import NatsState
from procure_shared.revocations import Revocations
from procure_shared.service import Runtime, build_app
from procure_shared.settings import DEV_JWT_SECRET, OidcIssuer, Settings
from tests.support.auth import bearer, token
from tests.support.oidc_issuer import LocalIssuer, SigningKey, local_issuer
from tests.support.ports import free_port_run
from tests.support.servers import NatsHandle
from tests.support.wait import ready, until

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = "/v1/providers"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with local_issuer() as running:
        yield running


def settings_trusting(url: str, *entries: dict[str, Any], **options: Any) -> Settings:
    return Settings(
        service="providers",
        database_url=url,
        oidc_issuers=tuple(msgspec.convert(e, OidcIssuer) for e in entries),
        **options,
    )


class Service:
    """The providers service's real app on the test's loop, trusting the given settings."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def status(self, credential: str) -> int:
        answer = await self.http.get(PROVIDERS, headers=bearer(credential))
        if answer.status_code != 200:
            assert answer.headers["content-type"].startswith("application/problem+json")
        return answer.status_code

    async def refusal(self, credential: str) -> str:
        answer = await self.http.get(PROVIDERS, headers=bearer(credential))
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        return str(answer.json()["detail"])


@pytest.fixture
async def serve(ppool: Pool, nc: Client, js: JetStreamContext) -> AsyncIterator[Any]:
    apps: list[Any] = []

    async def start(settings: Settings) -> Service:
        runtime = Runtime(
            settings=settings,
            clock=SystemClock(),
            pool=ppool,
            nats=nc,
            js=js,
            nats_state=NatsState(name="tests", connected=True),
        )
        app = build_app(definition(), runtime)
        apps.append(app)
        transport = httpx.ASGITransport(app=cast(Any, app))
        return Service(httpx.AsyncClient(transport=transport, base_url="http://testserver"))

    yield start
    for app in apps:
        await app.state.auth.close()


@pytest.fixture
async def service(serve: Any, issuer: LocalIssuer, providers_url: str) -> Service:
    settings = settings_trusting(
        providers_url,
        issuer.entry(buyerClaim="buyer"),
        oidc_refresh_interval=30,
    )
    return cast(Service, await serve(settings))


def viewer(local: LocalIssuer, **options: Any) -> str:
    return local.mint(**({"roles": ["viewer"], "buyer": "dfe"} | options))


# --- fail closed ----------------------------------------------------------------------------


def served_without_dev_mode(
    providers_url: str, nats: NatsHandle, **variables: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROCURE_", "DATABASE_"))}
    return (
        env
        | {
            "DATABASE_URL": providers_url,
            "NATS_URL": nats.url,
            "PROCURE_NATS_CREDENTIALS": nats.seed("providers"),
            "PROCURE_HTTP_PORT": str(free_port()),
            "PROCURE_LOG_LEVEL": "WARNING",
        }
        | variables
    )


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        pytest.param({}, "no bearer token could be verified: set PROCURE_JWT_SECRET", id="none"),
        pytest.param(
            {"PROCURE_JWT_SECRET": DEV_JWT_SECRET},
            "PROCURE_JWT_SECRET is the public development secret",
            id="the public development secret",
        ),
    ],
)
def test_a_service_without_a_secret_or_an_issuer_to_trust_refuses_to_start_saying_so(
    providers_url: str, nats_handle: NatsHandle, variables: dict[str, str], said: str
) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "procure_providers", "serve"],
        env=served_without_dev_mode(providers_url, nats_handle, **variables),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert said in last, done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 10


def test_a_service_trusting_only_an_issuer_takes_its_rs256_and_es256_tokens_and_no_other(
    providers_url: str, nats_handle: NatsHandle, issuer: LocalIssuer
) -> None:
    """The real process, configured by its environment alone, outside development mode."""
    port = free_port_run(1)
    entry = issuer.entry(rolesClaim="groups", roles={"procure-viewers": "viewer"}, buyer="dfe")
    env = served_without_dev_mode(
        providers_url, nats_handle, PROCURE_OIDC_ISSUERS=json.dumps([entry])
    ) | {"PROCURE_HTTP_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "procure_providers", "serve"], env=env, cwd=ROOT
    )
    try:
        until(
            lambda: ready(port),
            within=30,
            interval=0.1,
            what="providers ready",
            unless=lambda: process.poll() is not None,
        )
        url = f"http://127.0.0.1:{port}{PROVIDERS}"
        for alg in ("RS256", "ES256"):
            minted = issuer.mint(alg=alg, groups=["procure-viewers", "staff"])
            answer = httpx.get(url, headers=bearer(minted))
            assert answer.status_code == 200, (alg, answer.text)
        # Nothing signed with the public development secret gets in.
        development = token(Role.ADMIN, buyer=None)
        answer = httpx.get(url, headers=bearer(development))
        assert answer.status_code == 401, answer.text
        assert answer.json()["detail"] == "HS256 tokens are not accepted here"
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


# --- accepted and refused -------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_an_access_token_of_a_trusted_issuer_is_accepted(
    service: Service, issuer: LocalIssuer, alg: str
) -> None:
    assert await service.status(viewer(issuer, alg=alg)) == 200


async def test_a_token_from_the_issuers_token_endpoint_is_accepted(
    service: Service, issuer: LocalIssuer
) -> None:
    client = f"ops-{uuid.uuid4().hex[:8]}"
    secret = issuer.register(client, alg="ES256", roles=["ops"], buyer="dfe")
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{issuer.url}/token",
            data={"grant_type": "client_credentials"},
            auth=(client, secret),
        )
    assert answer.status_code == 200, answer.text
    assert await service.status(answer.json()["access_token"]) == 200


def forged_with(issuer: LocalIssuer) -> dict[str, str]:
    """Tokens that must be refused, each for one reason."""
    now = time.time()
    stranger = SigningKey.new("RS256")
    public_pem = (
        issuer.keys[issuer.active["RS256"]]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    good = viewer(issuer)
    head, body, signature = good.split(".")
    other = viewer(issuer)
    claims = jwt.decode(good, options={"verify_signature": False})
    return {
        "tampered claims": f"{head}.{other.split('.')[1]}.{signature}",
        "tampered signature": f"{head}.{body}.{signature[:-6]}AAAAAA",
        "a key the issuer never published": issuer.mint(
            key=SigningKey(kid=issuer.active["RS256"], alg="RS256", private=stranger.private),
            roles=["viewer"],
            buyer="dfe",
        ),
        "a wrong issuer": viewer(issuer, issuer="https://login.example.org/other"),
        "a wrong audience": viewer(issuer, audience="someone-else"),
        "expired": viewer(issuer, issued=now - 3600, lifetime=timedelta(minutes=30)),
        "beyond the maximum lifetime": viewer(issuer, lifetime=timedelta(hours=13)),
        "no expiry": viewer(issuer, exp=None),
        "no issued-at": viewer(issuer, iat=None),
        "not valid yet": viewer(issuer, nbf=int(now) + 600),
        "alg none": jwt.encode(claims, "", algorithm="none"),
        "HS256 with the issuer's public key": _hs256_with(claims, public_pem),
        "an ES256 header on an RSA key": _alg_swapped(issuer),
        "no role Procure knows": viewer(issuer, roles=["auditor"]),
        "no buyer": viewer(issuer, buyer=None),
        "an unknown key id": issuer.mint(roles=["viewer"], buyer="dfe", header={"kid": "made-up"}),
    }


def _hs256_with(claims: dict[str, Any], public_pem: bytes) -> str:
    """The classic confusion: HS256 "signed" with the issuer's public key as the secret."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _alg_swapped(issuer: LocalIssuer) -> str:
    """An RS256 token whose header claims ES256 for the RSA key's kid."""
    good = viewer(issuer)
    _, body, signature = good.split(".")
    header = {"alg": "ES256", "typ": "JWT", "kid": issuer.active["RS256"]}
    encoded = jwt.utils.base64url_encode(json.dumps(header).encode()).decode()
    return f"{encoded}.{body}.{signature}"


async def test_tampered_misaddressed_expired_or_too_long_lived_tokens_get_401_problems(
    service: Service, issuer: LocalIssuer
) -> None:
    accepted = {
        reason: status
        for reason, credential in forged_with(issuer).items()
        if (status := await service.status(credential)) != 401
    }
    assert accepted == {}, "each should be refused with 401"


async def test_the_refusal_says_why(service: Service, issuer: LocalIssuer) -> None:
    forged = forged_with(issuer)
    assert "not trusted here" in await service.refusal(forged["a wrong issuer"])
    assert "Audience doesn't match" in await service.refusal(forged["a wrong audience"])
    assert "longer than the 12 h" in await service.refusal(forged["beyond the maximum lifetime"])
    assert '"exp"' in await service.refusal(forged["no expiry"])
    assert '"iat"' in await service.refusal(forged["no issued-at"])
    assert "has no key 'made-up'" in await service.refusal(forged["an unknown key id"])
    assert "no role this service knows" in await service.refusal(forged["no role Procure knows"])


# --- keys -----------------------------------------------------------------------------------


async def test_a_key_rotation_is_followed_and_made_up_key_ids_do_not_hammer_the_issuer(
    serve: Any, providers_url: str
) -> None:
    with local_issuer() as issuer:
        service = await serve(
            settings_trusting(providers_url, issuer.entry(buyer="dfe"), oidc_refresh_interval=60)
        )
        before = issuer.mint(roles=["viewer"])
        assert await service.status(before) == 200
        assert issuer.jwks_fetches == 1
        for _ in range(3):  # known keys, other tokens: no fetch
            assert await service.status(issuer.mint(roles=["viewer"])) == 200
        assert issuer.jwks_fetches == 1

        new_kid = issuer.rotate("RS256", retire=True)
        after = issuer.mint(roles=["viewer"])
        assert jwt.get_unverified_header(after)["kid"] == new_kid
        assert await service.status(after) == 200, "the new key was fetched"
        assert issuer.jwks_fetches == 2
        assert await service.status(before) == 200, "a token verified once stays verified"

        for _ in range(20):  # an attacker's made-up key ids: refused, and no fetch each
            made_up = issuer.mint(roles=["viewer"], header={"kid": uuid.uuid4().hex})
            assert await service.status(made_up) == 401
        assert issuer.jwks_fetches == 2

        # A second rotation within the interval waits for it; the key is found after.
        issuer.rotate("ES256")
        assert await service.status(issuer.mint(alg="ES256", roles=["viewer"])) == 401
        assert issuer.jwks_fetches == 2


async def test_a_key_rotation_after_the_refresh_interval_is_followed_again(
    serve: Any, providers_url: str
) -> None:
    with local_issuer() as issuer:
        service = await serve(
            settings_trusting(providers_url, issuer.entry(buyer="dfe"), oidc_refresh_interval=0.2)
        )
        for round_ in range(3):
            issuer.rotate("ES256", retire=True)
            assert await service.status(issuer.mint(alg="ES256", roles=["viewer"])) == 200
            assert issuer.jwks_fetches == round_ + 1
            time.sleep(0.25)


async def test_an_issuer_that_cannot_be_reached_is_a_503_problem_not_a_500(
    serve: Any, providers_url: str, issuer: LocalIssuer
) -> None:
    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    service = await serve(settings_trusting(providers_url, {"issuer": gone, "buyer": "dfe"}))
    credential = issuer.mint(issuer=gone, roles=["viewer"])
    answer = await service.http.get(PROVIDERS, headers=bearer(credential))
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "cannot be fetched" in answer.json()["detail"]


# --- claims ---------------------------------------------------------------------------------


async def test_roles_and_buyer_come_from_the_claims_each_issuers_entry_names(
    serve: Any, providers_url: str
) -> None:
    with local_issuer() as keycloak_like:
        entry = keycloak_like.entry(
            rolesClaim="realm_access.roles",
            roles={"procure-commercial": "commercial", "procure-admin": "admin"},
            buyerClaim="organisation",
            subjectClaim="preferred_username",
        )
        service = await serve(settings_trusting(providers_url, entry))

        def minted(roles: list[str], **claims: Any) -> str:
            defaults = {"organisation": "dfe", "preferred_username": "carol"}
            return keycloak_like.mint(realm_access={"roles": roles}, **(defaults | claims))

        commercial = minted(["offline_access", "procure-commercial"])
        assert await service.status(commercial) == 200
        # commercial may register a provider; the audit names the subject claim's value
        created = await service.http.post(
            PROVIDERS,
            json={
                "legalName": "Mapped Claims Ltd",
                "kind": "company",
                "identifiers": [{"scheme": "GB-COH", "id": f"{uuid.uuid4().int % 10**8:08d}"}],
            },
            headers=bearer(commercial) | {"Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        assert await service.status(minted(["offline_access"])) == 401, "no mapped role"
        assert await service.status(minted(["procure-commercial"], organisation=None)) == 401
        assert await service.status(minted(["procure-admin"], organisation=None)) == 200
        assert await service.status(minted(["procure-commercial"], preferred_username=None)) == 401


@pytest.mark.parametrize(("entry", "claim"), [({}, "jti"), ({"tokenIdClaim": "uti"}, "uti")])
async def test_a_token_of_an_issuer_is_revoked_by_the_id_its_entry_names(
    issuer: LocalIssuer, entry: dict[str, Any], claim: str
) -> None:
    settings = settings_trusting(
        "postgresql://unused/unused", issuer.entry(buyerClaim="buyer", **entry)
    )
    revocations = Revocations(keep=settings.jwt_max_lifetime)
    auth = BearerAuth.from_settings(settings, revocations)
    try:

        def minted(ids: dict[str, str]) -> str:
            claims: dict[str, Any] = {"roles": ["viewer"], "buyer": "dfe", **ids}
            return issuer.mint(**claims)

        revoked, kept = minted({claim: "t1"}), minted({claim: "t2"})
        other_claim = "uti" if claim == "jti" else "jti"
        confusing = minted({other_claim: "t1", claim: "t3"})
        for token_ in (revoked, kept, confusing):
            await auth.verify(token_)
        revocations.revoke_token("t1", time.time())
        with pytest.raises(NotAuthorizedException, match="the token was revoked"):
            await auth.verify(revoked)
        await auth.verify(kept)
        await auth.verify(confusing)  # t1 in the claim the entry does not name
    finally:
        await auth.close()
