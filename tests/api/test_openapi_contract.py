"""Schemathesis against each service's own OpenAPI document, served by the real service
process (on the test PostgreSQL and nats-server): every operation, with a valid token per role
and the headers our conventions require. No server error; responses match their documented
schemas; errors are documented problem+json. Operations added later are covered by the same
test. The last test fails if any operation never got a 2xx."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from procure_tools.devstack import free_port
from schemathesis.specs.openapi.checks import positive_data_acceptance

from procure_shared.events.envelope import Envelope, encode_envelope
from procure_shared.http import Role, issue_token
from procure_shared.settings import DEV_JWT_SECRET
from tests.conftest import database_url
from tests.support import api_documents
from tests.support.servers import NatsHandle, PostgresHandle, access_in, session_credentials
from tests.support.wait import ready, until

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("contracts", "providers", "notifications")
# (service, "METHOD /path") -> Counter of status classes
TALLY: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
# Not checked: that every schema-valid body is accepted. A body can match the schema and still
# break a rule (an end before its start, an identifier in the wrong format for its scheme):
# that is a documented 422, not a contract failure.


def tokens() -> dict[str, str]:
    made = {
        f"{role.value}@dfe": issue_token(
            secret=DEV_JWT_SECRET,
            issuer="procure-dev",
            audience="procure",
            sub=f"schemathesis-{role.value}",
            roles=[role],
            buyer="dfe",
        )
        for role in Role
    }
    made["viewer@dhsc"] = issue_token(
        secret=DEV_JWT_SECRET,
        issuer="procure-dev",
        audience="procure",
        sub="schemathesis-other-buyer",
        roles=[Role.VIEWER],
        buyer="dhsc",
    )
    return made


def start_service(
    name: str, postgres: PostgresHandle, nats: NatsHandle, **extra: str
) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PROCURE_"))}
    env |= {
        "DATABASE_URL": database_url(postgres.url, f"api_{name}_{uuid.uuid4().hex[:8]}"),
        "NATS_URL": nats.url,
        "PROCURE_NATS_CREDENTIALS": nats.seed(name),
        "PROCURE_HTTP_PORT": str(port),
        "PROCURE_LOG_LEVEL": "WARNING",
        "PROCURE_WEBHOOK_ALLOW_LOOPBACK": "true",  # the seeded subscriptions' receivers
        "PROCURE_DEV_MODE": "true",  # the public development secret signs the tokens
    } | extra
    module = f"procure_{name}"
    subprocess.run([sys.executable, "-m", module, "migrate"], env=env, check=True, cwd=ROOT)
    process = subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        until(
            lambda: ready(port),
            within=30,
            interval=0.1,
            what=f"{name} ready",
            unless=lambda: process.poll() is not None,
        )
        yield base
    finally:
        process.terminate()
        process.wait(10)


def load(base: str) -> Any:
    return schemathesis.openapi.from_url(f"{base}/schema/openapi.json")


def call(base: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 (a local test server)
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {TOKENS['admin@dfe']}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        | headers,
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


def new_provider() -> dict[str, Any]:
    return {
        "legalName": "Contract Test Ltd",
        "kind": "company",
        "identifiers": [{"scheme": "GB-COH", "id": f"{uuid.uuid4().int % 10**8:08d}"}],
    }


# Valid bodies for operations whose rules random data almost never satisfies (an identifier
# must have its scheme's format): sent once per case beside the generated one.
AMENDMENT = {"change": {"kind": "scope", "scope": "Four areas"}, "rationale": "Expansion"}
KPI = {"name": "Pupils supported", "unit": "pupils", "target": {"kind": "value", "value": "500"}}
REASON = {"reason": "contract test"}
OCDS_RELEASE = {
    "ocid": "ocds-test-1",
    "id": "ocds-test-1-tender",
    "date": "2024-01-01T00:00:00Z",
    "tag": ["tender"],
    "initiationType": "tender",
    "tender": {"id": "t", "title": "Contract test", "status": "active"},
}
# The query a valid body needs beside it (an import names its buyer): random strings are blank,
# or absent, too often for the operation to succeed once in a run.
QUERIES: dict[str, dict[str, str]] = {"POST /v1/ocds/import": {"buyer": "dfe"}}
BODIES: dict[str, Callable[[], Any]] = {
    "POST /v1/providers": new_provider,
    "POST /v1/tenders/{tender_id}/lots/{lot_id}/awards": lambda: award_body(),
    "POST /v1/contracts/{contract_id}/cancel": lambda: REASON,
    "POST /v1/contracts/{contract_id}/terminate": lambda: REASON,
    "POST /v1/contracts/{contract_id}/amendments": lambda: AMENDMENT,
    "POST /v1/contracts": lambda: contract_body(CONTRACTS_BASE[0]),
    "POST /v1/contracts/{contract_id}/milestones": lambda: milestone_body(CONTRACTS_BASE[0]),
    "POST /v1/milestones/{milestone_id}/met": lambda: {"evidence": "contract test"},
    "POST /v1/contracts/{contract_id}/kpis": lambda: KPI,
    "POST /v1/kpis/{kpi_id}/observations": lambda: observation_body(CONTRACTS_BASE[0]),
    "POST /v1/milestones/{milestone_id}/waive": lambda: REASON,
    "POST /v1/ocds/import": lambda: OCDS_RELEASE,
    "POST /v1/subscriptions": lambda: {
        "name": "contract test",
        "channel": {"kind": "email", "address": "alerts@example.org"},
        "filter": {"eventTypes": ["contracts.milestone.*"]},
    },
}
CONTRACTS_BASE: list[str] = []
# The seeded contract (active): fresh milestones are scheduled on it; and its KPI.
SEEDED_CONTRACT: list[str] = []
SEEDED_KPI: list[str] = []


def seed_providers(base: str) -> dict[str, str]:
    provider = call(base, "POST", "/v1/providers", new_provider())
    accreditation = call(
        base,
        "POST",
        f"/v1/providers/{provider['id']}/accreditations",
        {"category": "tutor_training", "grantedBy": "DfE", "validFrom": "2022-01-01"},
    )
    exclusion = call(
        base,
        "POST",
        f"/v1/providers/{provider['id']}/exclusions",
        {"ground": "test", "source": "central debarment list", "startsOn": "2022-01-01"},
    )
    return {
        "provider_id": provider["id"],
        "accreditation_id": accreditation["id"],
        "exclusion_id": exclusion["id"],
    }


def at(seconds: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def draft_tender(base: str, deadline_in: float = 86400.0) -> dict[str, str]:
    tender = call(
        base,
        "POST",
        "/v1/tenders",
        {"title": "Contract test", "submissionDeadline": at(deadline_in)},
    )
    lot = call(
        base,
        "POST",
        f"/v1/tenders/{tender['id']}/lots",
        {"title": "Lot 1", "category": "tutor_training"},
    )
    return {
        "tender_id": tender["id"],
        "lot_id": lot["id"],
        "deadline": tender["submissionDeadline"],
    }


def move(base: str, path: str, body: Any = None) -> Any:
    etag = current_etag(base, path)
    assert etag is not None, path
    return call(base, "POST", path, body, **{"If-Match": etag})


def published_tender(base: str) -> dict[str, str]:
    ids = draft_tender(base)
    move(base, f"/v1/tenders/{ids['tender_id']}/publish")
    return ids


def past_deadline(base: str) -> dict[str, str]:
    ids = draft_tender(base, deadline_in=1.0)
    move(base, f"/v1/tenders/{ids['tender_id']}/publish")
    # The service runs on the real clock: wait until its deadline has passed.
    deadline = datetime.fromisoformat(ids["deadline"])
    until(lambda: datetime.now(UTC) > deadline, within=10, what="the submission deadline")
    return ids


def closed_tender(base: str) -> dict[str, str]:
    ids = past_deadline(base)
    move(base, f"/v1/tenders/{ids['tender_id']}/close")
    return ids


def award_body() -> dict[str, Any]:
    return {"providers": [{"providerId": PROVIDER["id"]}], "date": at(-1), "standstillEnds": at(-1)}


def awarded_tender(base: str) -> dict[str, str]:
    ids = closed_tender(base)
    made = call(
        base, "POST", f"/v1/tenders/{ids['tender_id']}/lots/{ids['lot_id']}/awards", award_body()
    )
    return ids | {"award_id": made["items"][0]["id"]}


def contract_body(base: str) -> dict[str, Any]:
    return {"awardIds": [awarded_tender(base)["award_id"]], "title": "Contract test"}


def pending_contract(base: str) -> dict[str, str]:
    contract = call(base, "POST", "/v1/contracts", contract_body(base))
    return {"contract_id": contract["id"]}


def active_contract(base: str) -> dict[str, str]:
    ids = pending_contract(base)
    move(base, f"/v1/contracts/{ids['contract_id']}/sign")
    contract = call(
        base, "POST", f"/v1/contracts/{ids['contract_id']}/options", {"description": "Scale up"}
    )
    return ids | {"option_id": contract["options"][0]["id"]}


def seed_contracts(base: str) -> dict[str, str]:
    ids = draft_tender(base) | active_contract(base)
    contract = call(
        base,
        "POST",
        f"/v1/contracts/{ids['contract_id']}/amendments",
        AMENDMENT,
    )
    SEEDED_CONTRACT[:] = [ids["contract_id"]]
    return (
        ids
        | {
            "award_id": contract["awardIds"][0],
            "amendment_id": contract["amendments"][0]["id"],
        }
        | scheduled_milestone(base)
        | observed_kpi(base)
    )


def milestone_body(base: str) -> dict[str, Any]:
    """A milestone due within the seeded contract's period (generated amendments move it)."""
    contract = call(base, "GET", f"/v1/contracts/{SEEDED_CONTRACT[0]}")
    due = contract["startsOn"] or contract["endsOn"] or datetime.now(UTC).date().isoformat()
    return {"kind": "delivery", "title": "Contract test", "dueOn": due}


def scheduled_milestone(base: str) -> dict[str, str]:
    path = f"/v1/contracts/{SEEDED_CONTRACT[0]}/milestones"
    made = call(base, "POST", path, milestone_body(base))
    return {"milestone_id": made["id"]}


def observed_kpi(base: str) -> dict[str, str]:
    kpi = call(base, "POST", f"/v1/contracts/{SEEDED_CONTRACT[0]}/kpis", KPI)
    SEEDED_KPI[:] = [kpi["id"]]
    observation = call(base, "POST", f"/v1/kpis/{kpi['id']}/observations", observation_body(base))
    return {"kpi_id": kpi["id"], "observation_id": observation["id"]}


def observation_body(base: str) -> dict[str, Any]:
    """A figure (a note, if a generated PATCH made the KPI qualitative) for a day within the
    seeded contract (a generated amendment may have moved its end)."""
    contract = call(base, "GET", f"/v1/contracts/{SEEDED_CONTRACT[0]}")
    day = min(filter(None, (datetime.now(UTC).date().isoformat(), contract["endsOn"])))
    body: dict[str, Any] = {"periodStart": day, "periodEnd": day, "source": "contract test"}
    if not SEEDED_KPI:
        return body | {"value": "480"}
    kpi = call(base, "GET", f"/v1/kpis/{SEEDED_KPI[0]}")
    if kpi["dimension"] is not None:
        body["dimensionValue"] = kpi["dimension"]["values"][0]
    return body | ({"value": "480"} if kpi["target"] else {"note": "contract test"})


def new_subscription(base: str) -> dict[str, str]:
    made = call(
        base,
        "POST",
        "/v1/subscriptions",
        {
            "name": "contract test",
            "channel": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"},
            "filter": {"eventTypes": ["contracts.>"]},
        },
    )
    return {"subscription_id": made["id"]}


def paused_subscription(base: str) -> dict[str, str]:
    made = new_subscription(base)
    move(base, f"/v1/subscriptions/{made['subscription_id']}/pause")
    return made


def seed_notifications(base: str) -> dict[str, str]:
    """A subscription, and a delivery of an event a test producer puts in JetStream."""
    made = new_subscription(base)
    event = Envelope.new(
        service="contracts",
        type="contracts.contract.signed",
        subject=str(uuid.uuid4()),
        time=datetime.now(UTC),
        sequence=1,
        data={"contractId": "contract-test"},
        buyer_id="dfe",
    )

    async def publish() -> None:
        # As the contracts service: the only identity that may publish its events.
        nc = await nats.connect(
            NATS_URL[0], **access_in(session_credentials(), "contracts").options()
        )
        try:
            await nc.jetstream().publish(
                event.type, encode_envelope(event), headers={"Nats-Msg-Id": event.id}
            )
        finally:
            await nc.close()

    asyncio.run(publish())
    path = f"/v1/deliveries?subscription={made['subscription_id']}"
    found: list[Any] = []

    def delivered() -> bool:
        found[:] = call(base, "GET", path)["items"]
        return bool(found)

    until(delivered, within=30, interval=0.2, what="the seeded delivery")
    return made | {"delivery_id": found[0]["id"]}


NATS_URL: list[str] = []


def ocds_process(base: str) -> dict[str, str]:
    """A contracting process to read the record of: a tender's, by its ocid."""
    return {"ocid": f"ocds-procure-{draft_tender(base)['tender_id']}"}


# The provider the contracts service's awards name (registered in the providers service).
PROVIDER: dict[str, str] = {}

# Operations that succeed once, from one state: each round gets resources made afresh in it
# (and the valid body of BODIES, if any).
FRESH: dict[str, Callable[[str], dict[str, str]]] = {
    "POST /v1/tenders/{tender_id}/publish": draft_tender,
    "POST /v1/tenders/{tender_id}/close": past_deadline,
    "POST /v1/tenders/{tender_id}/complete": awarded_tender,
    "POST /v1/tenders/{tender_id}/cancel": draft_tender,
    "POST /v1/tenders/{tender_id}/unsuccessful": published_tender,
    "POST /v1/tenders/{tender_id}/lots/{lot_id}/cancel": draft_tender,
    "POST /v1/tenders/{tender_id}/lots/{lot_id}/unsuccessful": closed_tender,
    "POST /v1/tenders/{tender_id}/lots/{lot_id}/awards": closed_tender,
    "POST /v1/awards/{award_id}/cancel": awarded_tender,
    "POST /v1/contracts/{contract_id}/sign": pending_contract,
    "POST /v1/contracts/{contract_id}/cancel": pending_contract,
    "POST /v1/contracts/{contract_id}/complete": active_contract,
    "POST /v1/contracts/{contract_id}/terminate": active_contract,
    "POST /v1/contracts/{contract_id}/options/{option_id}/exercise": active_contract,
    "POST /v1/milestones/{milestone_id}/met": scheduled_milestone,
    "POST /v1/milestones/{milestone_id}/not-met": scheduled_milestone,
    "POST /v1/milestones/{milestone_id}/waive": scheduled_milestone,
    "GET /v1/ocds/records/{ocid}": ocds_process,
    "DELETE /v1/subscriptions/{subscription_id}": new_subscription,
    "POST /v1/subscriptions/{subscription_id}/pause": new_subscription,
    "POST /v1/subscriptions/{subscription_id}/resume": paused_subscription,
    # A generated PATCH may have made the seeded subscription an email one (no secret).
    "POST /v1/subscriptions/{subscription_id}/rotate-secret": new_subscription,
}

# Resources each service's operations can name: without them every id schemathesis invents is
# a 404, and operations on one resource would never be seen to succeed.
SEEDS: dict[str, Callable[[str], dict[str, str]]] = {
    "providers": seed_providers,
    "contracts": seed_contracts,
    "notifications": seed_notifications,
}


@pytest.fixture(scope="module", params=SERVICES)
def service_api(
    request: pytest.FixtureRequest, postgres: PostgresHandle, nats_handle: NatsHandle
) -> Iterator[tuple[str, Any, str, dict[str, str]]]:
    if request.param == "contracts":
        # Awards ask a real providers service whether the provider is eligible.
        for providers in start_service("providers", postgres, nats_handle):
            PROVIDER.update(call(providers, "POST", "/v1/providers", new_provider()))
            call(
                providers,
                "POST",
                f"/v1/providers/{PROVIDER['id']}/accreditations",
                {"category": "tutor_training", "grantedBy": "DfE", "validFrom": "2020-01-01"},
            )
            # OCDS imports find and register suppliers there.
            for base in start_service(
                "contracts",
                postgres,
                nats_handle,
                PROCURE_PROVIDERS_URL=providers,
                PROCURE_BUYER_NAMES="dfe=Department for Education",  # an import's buyer
            ):
                CONTRACTS_BASE[:] = [base]
                yield "contracts", load(base), base, seed_contracts(base)
        return
    NATS_URL[:] = [nats_handle.url]
    for base in start_service(request.param, postgres, nats_handle):
        seed = SEEDS.get(request.param)
        yield request.param, load(base), base, seed(base) if seed else {}


TOKENS = tokens()
EXAMPLES = settings(
    max_examples=int(os.environ.get("PROCURE_SCHEMATHESIS_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def current_etag(base: str, path: str) -> str | None:
    """The ETag of the resource a change names (a transition's resource is its parent, an
    option's exercise changes the contract)."""
    parts = path.split("/")
    for candidate in ("/".join(parts[:n]) for n in range(len(parts), 3, -1)):
        request = urllib.request.Request(  # noqa: S310 (a local test server)
            f"{base}{candidate}", headers={"Authorization": f"Bearer {TOKENS['admin@dfe']}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                etag = answer.headers.get("ETag")
                if etag:
                    return str(etag)
        except urllib.error.HTTPError:
            continue
    return None


def exercise(service: str, case: Any, base: str, seeded: dict[str, str]) -> None:
    """Call the operation once per role, as generated and again naming seeded resources
    (with their current ETag); record and validate every answer."""
    operation = f"{case.method.upper()} {case.path}"
    names = set(case.path_parameters or {})

    def name_seeded() -> None:
        case.path_parameters = dict(case.path_parameters) | {n: seeded[n] for n in names}

    def send_valid_body() -> None:
        case.body = BODIES[operation]()
        if operation in QUERIES:
            case.query = {**(case.query or {}), **QUERIES[operation]}

    def name_fresh() -> None:
        made = FRESH[operation](base)
        case.path_parameters = dict(case.path_parameters) | {n: made[n] for n in names}
        if operation in BODIES:
            send_valid_body()

    # (how to change the case before calling it, whether it names an existing resource)
    rounds: list[tuple[Callable[[], None], bool]] = [(lambda: None, False)]
    if operation in FRESH:
        # Made afresh until it has once succeeded (making them takes time).
        if TALLY[(service, operation)]["2xx"] == 0:
            rounds.append((name_fresh, True))
    elif names and names <= set(seeded):
        rounds.append((name_seeded, True))
        if operation in BODIES:
            rounds.append((send_valid_body, True))  # the seeded names stay
    elif operation in BODIES:
        rounds.append((send_valid_body, False))
    for prepare, existing in rounds:
        prepare()
        for token in TOKENS.values():
            headers = {"Authorization": f"Bearer {token}"}
            if case.method.upper() == "POST":
                headers["Idempotency-Key"] = str(uuid.uuid4())
            if existing and case.method.upper() in ("PATCH", "POST", "DELETE"):
                etag = current_etag(base, case.formatted_path)
                if etag:
                    headers["If-Match"] = etag
            # An event stream never ends: schemathesis would read one until its request
            # timeout (10 s by default); half a second shows its status and headers.
            extra = {"timeout": 0.5} if operation == "GET /v1/events/stream" else {}
            response = case.call(headers=headers, **extra)
            TALLY[(service, operation)][f"{response.status_code // 100}xx"] += 1
            case.validate_response(response, excluded_checks=[positive_data_acceptance])
            assert response.status_code < 500, response.text


# Over two minutes for the three services: in `make test`, not in the quick `make check`.
@pytest.mark.slow
def test_each_service_keeps_its_documented_contract_for_every_role(
    service_api: tuple[str, Any, str, dict[str, str]],
) -> None:
    service, schema, base, seeded = service_api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"
    for operation in operations:

        @given(case=operation.as_strategy())
        @EXAMPLES
        def run(case: Any) -> None:
            exercise(service, case, base, seeded)

        run()


@pytest.mark.slow  # it reads what the run above tallied
def test_every_operation_of_every_service_got_a_2xx(report: Callable[[str], None]) -> None:
    assert {service for service, _ in TALLY} == set(SERVICES), "a service was not exercised"
    report("schemathesis: answers per operation (all roles)")
    for (service, operation), counts in sorted(TALLY.items()):
        figures = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        report(f"  {service:14} {operation:40} {figures}")
    never = [f"{s} {op}" for (s, op), counts in TALLY.items() if counts["2xx"] == 0]
    assert not never, f"operations that never answered 2xx: {never}"


@pytest.mark.slow  # the services above are started for the contract test
def test_each_service_serves_the_openapi_document_the_baseline_test_builds(
    service_api: tuple[str, Any, str, dict[str, str]],
) -> None:
    service, _, base, _ = service_api
    with urllib.request.urlopen(f"{base}/schema/openapi.json", timeout=10) as answer:  # noqa: S310
        served = json.loads(answer.read())
    served["info"]["version"] = api_documents.VERSION
    assert served == api_documents.openapi(service)
