"""``/v1/revocations`` (decision 23): only an admin revokes; each revocation is recorded,
audited and published as identity's event, which stays out of the buyers' change feed; bad
requests are refused with problem+json and change nothing; a subject's revocation ends its ops
dashboard sessions at once. (That every service then refuses the tokens is
``tests/shared/test_revocation_reach.py``.)"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from procure_contracts.app import definition
from procure_contracts.ops import sessions as ops_sessions
from procure_contracts.settings import ContractsOptions
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import decode_envelope
from procure_shared.events.identity import SubjectRevoked, TokenRevoked
from procure_shared.http import Role
from procure_shared.service import Runtime, build_app
from tests.contracts.conftest import Api
from tests.contracts.test_ocds_cli import procure
from tests.support.auth import bearer, token
from tests.support.serving import serving

PATH = "/v1/revocations"
ADMIN = bearer(token(Role.ADMIN, buyer=None, sub="root"))


async def changes(pool: Pool) -> tuple[int, int, int]:
    """Revocations, audit rows and outbox events."""
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM token_revocations) AS r, "
        "(SELECT count(*) FROM audit_log) AS a, (SELECT count(*) FROM outbox) AS o"
    )
    assert row is not None
    return row["r"], row["a"], row["o"]


async def published(pool: Pool) -> list[Any]:
    rows = await pool.fetch("SELECT payload FROM outbox ORDER BY position")
    return [decode_envelope(r["payload"]) for r in rows]


async def test_an_admin_revokes_a_token_once_audited_and_published_as_identitys_event(
    capi: Api, cpool: Pool
) -> None:
    jti = str(uuid.uuid4())
    made = await capi.http.post(PATH, json={"jti": jti, "reason": "leaked"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body | {"id": 0, "revokedAt": ""} == {
        "id": 0,
        "kind": "token",
        "jti": jti,
        "subject": None,
        "issuedBefore": None,
        "reason": "leaked",
        "revokedBy": "root",
        "revokedAt": "",
    }
    assert made.headers["location"] == f"{PATH}/{body['id']}"
    assert (await capi.http.get(made.headers["location"], headers=ADMIN)).json() == body

    again = await capi.http.post(PATH, json={"jti": jti}, headers=ADMIN)
    assert again.status_code == 200
    assert again.json() == body  # the first revocation; nothing published again
    documented = (await capi.http.get("/schema/openapi.json")).json()
    assert {"200", "201"} <= set(documented["paths"][PATH]["post"]["responses"])

    [event] = await published(cpool)
    assert (event.type, event.source, event.subject, event.buyerid) == (
        "identity.token.revoked",
        "/procure/identity",
        jti,
        None,
    )
    data = event.decode_data(TokenRevoked)
    assert (data.jti, data.revoked_by, data.reason) == (jti, "root", "leaked")
    audit = await cpool.fetchrow(
        "SELECT actor, action, resource_type, after FROM audit_log WHERE resource_id = $1", jti
    )
    assert audit is not None
    assert (audit["actor"], audit["action"], audit["resource_type"]) == (
        "root",
        "identity.token.revoked",
        "token_revocation",
    )
    assert audit["after"]["jti"] == jti


async def test_revocations_stay_out_of_the_buyers_change_feed(capi: Api) -> None:
    await capi.http.post(PATH, json={"subject": "mallory"}, headers=ADMIN)
    for who in (bearer(token(Role.VIEWER)), ADMIN):
        page = (await capi.http.get("/v1/feed", headers=who)).json()
        assert [e["type"] for e in page["items"]] == []


async def test_revoking_a_subject_ends_its_ops_sessions_started_before_at_once(
    capi: Api, cpool: Pool
) -> None:
    def session(subject: str) -> ops_sessions.Session:
        return ops_sessions.Session(
            subject=subject,
            roles=frozenset({Role.OPS}),
            buyer="dfe",
            issuer="https://login.example",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )

    mallory = await ops_sessions.start(cpool, session("mallory"))
    alice = await ops_sessions.start(cpool, session("alice"))

    async def opens(value: str) -> int:
        cookie = {"Cookie": f"procure_ops={value}"}
        answer = await capi.http.get("/ops", headers=cookie)
        return answer.status_code

    assert (await opens(mallory), await opens(alice)) == (200, 200)
    made = await capi.http.post(
        PATH, json={"subject": "mallory", "reason": "left the team"}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "subject"
    # Mallory's browser is sent to sign in again (303); Alice's session goes on.
    assert (await opens(mallory), await opens(alice)) == (303, 200)

    [event] = await published(cpool)
    data = event.decode_data(SubjectRevoked)
    assert (event.type, data.subject, data.reason) == (
        "identity.subject.revoked",
        "mallory",
        "left the team",
    )
    ended = await cpool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'ops.session_ended' AND actor = 'root'"
    )
    assert ended == 1


async def test_the_list_shows_the_revocations_in_force_newest_first_page_by_page(
    capi: Api,
) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    await capi.http.post(PATH, json={"subject": "gone", "issuedBefore": long_ago}, headers=ADMIN)
    made = [
        (await capi.http.post(PATH, json={"jti": f"t{n}"}, headers=ADMIN)).json()["id"]
        for n in range(3)
    ]
    first = (await capi.http.get(PATH, params={"limit": 2}, headers=ADMIN)).json()
    second = (
        await capi.http.get(PATH, params={"limit": 2, "cursor": first["nextCursor"]}, headers=ADMIN)
    ).json()
    # Tokens issued two days ago are dead (12 h at most): that revocation no longer matters.
    assert [r["id"] for r in first["items"] + second["items"]] == made[::-1]
    assert second["nextCursor"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "jti"),
        ({"jti": "a", "subject": "b"}, 422, "jti"),
        ({"jti": "a", "issuedBefore": "2026-01-01T00:00:00Z"}, 422, "issuedBefore"),
        ({"subject": "b", "issuedBefore": "2999-01-01T00:00:00Z"}, 422, "issuedBefore"),
        ({"subject": "b", "issuedBefore": "2026-01-01T00:00:00"}, 400, None),  # no offset
        ({"jti": ""}, 400, None),
        ({"jti": "a" * 201}, 400, None),
        ({"jti": "a\nb"}, 400, None),
        ({"jti": "a", "why": "x"}, 400, None),
        ({"jti": 7}, 400, None),
    ],
)
async def test_a_bad_revocation_is_refused_with_a_problem_and_changes_nothing(
    capi: Api, cpool: Pool, body: dict[str, Any], status: int, field: str | None
) -> None:
    before = await changes(cpool)
    answer = await capi.http.post(PATH, json=body, headers=ADMIN)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert field in {e["field"] for e in answer.json()["errors"]}
    assert await changes(cpool) == before


async def test_only_an_admin_may_revoke_or_read_revocations(capi: Api, cpool: Pool) -> None:
    before = await changes(cpool)
    for role in (Role.VIEWER, Role.COMMERCIAL, Role.OPS):
        who = bearer(token(role))
        made = await capi.http.post(PATH, json={"subject": "alice"}, headers=who)
        assert made.status_code == 403, made.text
        assert (await capi.http.get(PATH, headers=who)).status_code == 403
    assert (await capi.http.post(PATH, json={"subject": "alice"})).status_code == 401
    assert await changes(cpool) == before


@pytest.mark.parametrize("path", [f"{PATH}/999999", f"{PATH}/99999999999999999999999"])
async def test_an_unknown_revocation_is_404(capi: Api, path: str) -> None:
    answer = await capi.http.get(path, headers=ADMIN)
    assert answer.status_code in (400, 404), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("cursor", ["nonsense", "WzBd", "Wzk5OTk5OTk5OTk5OTk5OTk5OTk5XQ"])
async def test_a_cursor_not_handed_out_is_400(capi: Api, cursor: str) -> None:
    answer = await capi.http.get(PATH, params={"cursor": cursor}, headers=ADMIN)
    assert answer.status_code == 400, answer.text


async def test_procure_revoke_revokes_through_the_api_and_says_why_when_refused(
    crt: Runtime, options: ContractsOptions
) -> None:
    admin = token(Role.ADMIN, buyer=None, sub="root")
    async with serving(build_app(definition(options), crt), lifespan="off") as url:
        code, out, err = await procure(
            "revoke", "--subject", "mallory", "--reason", "left", "--url", url, "--token", admin
        )
        assert code == 0, err
        made = json.loads(out)
        assert (made["kind"], made["subject"], made["reason"]) == ("subject", "mallory", "left")
        leaked = token(Role.VIEWER, jti="leaked-1")  # the whole token stands for its jti
        code, out, err = await procure("revoke", "--jti", leaked, "--url", url, "--token", admin)
        assert code == 0, err
        assert json.loads(out)["jti"] == "leaked-1"
        code, out, err = await procure(
            "revoke", "--jti", "a", "--subject", "b", "--url", url, "--token", admin
        )
        assert code == 2
        assert "refused (422)" in err
        code, out, err = await procure("revoke", "--jti", "a", "--url", url, "--token", "x.y.z")
        assert code == 2
        assert "refused (401)" in err
