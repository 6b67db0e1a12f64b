"""The contracts HTTP API with an OpenID Connect issuer's RS256 access token against an HS256
token of the shared secret, in the same run (issue 22; decision 21).

Both sides are the same process, ``python -m procure_contracts serve --role http`` (started
once a repetition), trusting both the shared secret and the local issuer of
``tests.support.oidc_issuer`` (on loopback, a thread of the bench process, which answers the
discovery and JWKS requests once); the same database (restored before each side), the same
requests as ``bench.contracts`` (a GET by id, a list page, an amendment, 50 keep-alive
connections from the bench process on the other core), the same warm-up and timed seconds;
each endpoint's two sides run back to back, which goes first alternating with the
repetitions. Only the bearer token differs: the baseline sends an HS256
token signed with ``PROCURE_JWT_SECRET``, the project side an RS256 token (2048-bit RSA) that
the service verifies with the key it fetched from the issuer's JWKS. Each side verifies its
token once and remembers it (``BearerAuth``), as clients send the same token with every
request; the log also gives what verifying a token the service has not seen costs, in this
process, for RS256, ES256 and HS256.

``python -m bench oidc`` (with ``--smoke``: once, tiny).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import msgspec

from bench import contracts
from bench.harness import (
    SERVER_CORE,
    Figure,
    Servers,
    guarded,
    keep_run,
    say_http_run,
    stop_process,
)
from bench.plan import Plan
from procure_shared.http.auth import BearerAuth
from procure_shared.settings import OidcIssuer, Settings
from procure_shared.tokens import Role, issue_token
from tests.support.oidc_issuer import LocalIssuer, local_issuer

HS256, RS256 = "HS256", "RS256"
# The control: an HS256 token as long as the RS256 one (its jti padded), on the GET only; if it
# costs what RS256 costs, the difference is the token's size, not its algorithm.
PADDED = "HS256 padded"
TARGET = 0.95
_HOUR = timedelta(hours=1)
NOTE = "baseline: the same service, requests and data with an HS256 token of the shared secret"


@contextlib.contextmanager
def _environment(**variables: str) -> Iterator[None]:
    """``variables`` in this process's environment while the apps start (``bench.contracts``'s
    ``start_app`` gives its own environment to the app it starts)."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_TITLES = {
    "get": "GET a contract by id",
    "list": "list page (status active, one category, 50 a page)",
    "amend": "amendment (lock, update, audit, outbox)",
}


def _figures(endpoint: str, connections: int, side: str = RS256) -> tuple[Figure, Figure, Figure]:
    if side == RS256:
        key, token, target = f"oidc_{endpoint}", "an RS256 OpenID Connect token", TARGET
    else:
        key, token, target = f"oidc_padded_{endpoint}", "an HS256 token as long", None
    title = f"contracts API with {token}: {_TITLES[endpoint]}, {connections} connections"
    return (
        Figure(
            f"{key}_throughput",
            f"{title}: throughput",
            "req/s",
            target=f">= {target}x" if target else "-",
            min_ratio=target,
            note=NOTE,
        ),
        Figure(f"{key}_p50", f"{title}: p50", "ms", note=NOTE),
        Figure(f"{key}_p99", f"{title}: p99", "ms", note=NOTE),
    )


def _tokens(issuer: LocalIssuer) -> dict[str, str]:
    claims: dict[str, Any] = {"roles": [Role.COMMERCIAL.value], "buyer": contracts.BUYER}
    rs256 = issuer.mint(alg="RS256", sub="bench", lifetime=_HOUR, **claims)
    return {HS256: contracts.token(), RS256: rs256, PADDED: _padded(len(rs256))}


def _padded(length: int) -> str:
    """An HS256 token of the bench's user ``length`` characters long (give or take the last
    base64 quantum): its ``jti`` made longer."""
    pad = 0
    while len(made := contracts.token(jti="j" * pad)) < length - 3:
        pad += max(1, (length - len(made)) * 3 // 4)
    return made


async def first_use_costs(issuer: LocalIssuer, count: int) -> dict[str, float]:
    """Microseconds to verify a token not seen before, median of ``count``, by algorithm."""
    settings = Settings(
        service="bench",
        database_url="postgresql://unused/unused",
        jwt_secret=contracts.SECRET,
        oidc_issuers=(msgspec.convert(issuer.entry(buyerClaim="buyer"), OidcIssuer),),
    )
    auth = BearerAuth.from_settings(settings)
    claims: dict[str, Any] = {"roles": ["commercial"], "buyer": contracts.BUYER}
    made = {
        RS256: [issuer.mint(alg="RS256", sub=f"u{n}", **claims) for n in range(count)],
        "ES256": [issuer.mint(alg="ES256", sub=f"u{n}", **claims) for n in range(count)],
        HS256: [
            issue_token(
                secret=contracts.SECRET,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                sub=f"u{n}",
                roles=[Role.COMMERCIAL],
                buyer=contracts.BUYER,
            )
            for n in range(count)
        ],
    }
    try:
        await auth.verify(made[RS256][0])  # the keys fetched once, outside the timing
        await auth.verify(made["ES256"][0])
        costs: dict[str, float] = {}
        for alg, tokens in made.items():
            each = []
            for encoded in tokens[1:]:
                began = time.perf_counter()
                await auth.verify(encoded)
                each.append((time.perf_counter() - began) * 1e6)
            costs[alg] = statistics.median(each)
        return costs
    finally:
        await auth.close()


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    dsn = await contracts._database(servers)
    log_file = servers.folder / "oidc-apps.log"
    connections = plan.contracts_connections
    with local_issuer() as issuer:
        entry = issuer.entry(buyerClaim="buyer")
        try:
            seconds = await contracts.load(dsn, 1, plan.contracts)
            await contracts.snapshot(servers, dsn)
            ids, live = await contracts._ids(dsn)
            tokens = _tokens(issuer)
            figures = {e: _figures(e, connections) for e in contracts.ENDPOINTS}
            control = _figures("get", connections, PADDED)
            for rep in range(plan.repetitions):
                with _environment(PROCURE_OIDC_ISSUERS=json.dumps([entry])):
                    proc, port = await contracts.start_app(
                        servers, contracts.SERVICE, dsn, log_file
                    )
                try:
                    requests = {
                        side: contracts.Requests(
                            contracts.SERVICE, tokens[side], ids, live, uuid.uuid4().hex[:12]
                        )
                        for side in (HS256, RS256, PADDED)
                    }
                    for endpoint in contracts.ENDPOINTS:
                        # Each endpoint's two sides back to back, in turn first.
                        sides = [RS256, HS256] if rep % 2 == 0 else [HS256, RS256]
                        if endpoint == "get":
                            sides.insert(rep % 3, PADDED)
                        for side in sides:
                            await contracts.restore(servers, dsn)
                            await contracts.verify(
                                port, contracts.SERVICE, requests[side], amend=False
                            )
                            label = f"oidc {side} {endpoint}"
                            run = partial(
                                contracts.timed,
                                plan,
                                port,
                                requests[side].of(endpoint),
                                connections,
                                log,
                                label,
                            )
                            r = await guarded(plan, label, log, run)
                            if side == PADDED:
                                keep_run(control, r, baseline=False)
                                continue
                            keep_run(figures[endpoint], r, baseline=side == HS256)
                            if endpoint == "get" and side == HS256:
                                keep_run(control, r, baseline=True)
                            say_http_run(label, rep, r)
                finally:
                    await stop_process(proc)
            costs = await first_use_costs(issuer, 50 if plan.repetitions == 1 else 500)
            log.append(
                f"oidc: {plan.contracts:,} contracts generated in {seconds:.1f} s; the service "
                f"(serve --role http on core {SERVER_CORE if servers.pinned else 'any'}) "
                f"trusting PROCURE_JWT_SECRET and the local issuer on loopback "
                f"({issuer.jwks_fetches} JWKS fetches in all: one by each start of the "
                f"service, one for the first-use costs); {connections} connections, each "
                f"endpoint's sides back to back on one process, the table restored before each"
            )
            log.append(
                "oidc: verifying a token not seen before (median, in the bench process): "
                + ", ".join(f"{alg} {us:.0f} us" for alg, us in costs.items())
                + "; a token seen before costs a dictionary look-up"
            )
            log.append(
                f"oidc: the control: GET with an HS256 token padded to the RS256 token's length "
                f"({len(tokens[PADDED])} against {len(tokens[RS256])} characters; the plain "
                f"HS256 token {len(tokens[HS256])}), its sides in turn with the others"
            )
            return [f for e in contracts.ENDPOINTS for f in figures[e]] + list(control)
        finally:
            await servers.drop_database(dsn)
