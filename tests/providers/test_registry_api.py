"""Registering and changing providers through the HTTP API, on real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from procure_shared.db.postgres import Pool
from procure_shared.events import decode_envelope
from procure_shared.http import Role
from tests.providers.conftest import Api, provider_body


async def outbox_events(pool: Pool) -> list[Any]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT payload FROM outbox ORDER BY position")
    return [decode_envelope(bytes(r["payload"])) for r in rows]


async def count(pool: Pool, sql: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql))


@pytest.mark.check
async def test_registering_a_provider_stores_it_audits_it_and_announces_it(
    api: Api, ppool: Pool
) -> None:
    answer = await api.create(
        "/v1/providers",
        provider_body(
            legalName="Barnardo's",
            kind="charity",
            vcse=True,
            identifiers=[{"scheme": "GB-CHC", "id": "216250"}],
        ),
    )
    assert answer.status_code == 201, answer.text
    provider = answer.json()
    assert answer.headers["ETag"] == '"1"'
    assert answer.headers["Location"] == f"/v1/providers/{provider['id']}"
    assert provider["identifiers"] == [{"scheme": "GB-CHC", "id": "216250"}]
    assert provider["status"] == "active"

    fetched = await api.get(f"/v1/providers/{provider['id']}")
    assert fetched.json() == provider
    [event] = await outbox_events(ppool)
    assert (event.type, event.subject, event.sequence) == (
        "providers.provider.registered",
        provider["id"],
        1,
    )
    assert event.buyerid is None  # the registry is shared by all buyers
    data = event.decode_data(dict)
    assert data["legalName"] == "Barnardo's"
    assert data["identifiers"] == [{"scheme": "GB-CHC", "id": "216250"}]
    history = (await api.get(f"/v1/providers/{provider['id']}/history")).json()
    assert [(h["action"], h["actor"]) for h in history] == [
        ("providers.provider.registered", "commercial-user")
    ]


async def test_a_second_provider_with_an_identifier_already_held_gets_409_naming_the_holder(
    api: Api, ppool: Pool
) -> None:
    first = await api.register(identifiers=[{"scheme": "GB-COH", "id": "02965566"}])
    answer = await api.create(
        "/v1/providers",
        provider_body(
            legalName="Someone Else Ltd", identifiers=[{"scheme": "GB-COH", "id": "2965566"}]
        ),
    )
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert first["id"] in answer.json()["detail"]
    assert "Randstad Solutions Limited" in answer.json()["detail"]
    assert await count(ppool, "SELECT count(*) FROM providers") == 1
    assert await count(ppool, "SELECT count(*) FROM outbox") == 1


async def test_twenty_concurrent_registrations_with_one_identifier_make_exactly_one_provider(
    api: Api, ppool: Pool
) -> None:
    body = provider_body(identifiers=[{"scheme": "GB-PPON", "id": "PMZV-7732-XXTT"}])
    answers = await asyncio.gather(*(api.create("/v1/providers", body) for _ in range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 19, statuses
    assert await count(ppool, "SELECT count(*) FROM providers") == 1
    assert await count(ppool, "SELECT count(*) FROM provider_identifiers") == 1
    assert await count(ppool, "SELECT count(*) FROM outbox") == 1
    assert await count(ppool, "SELECT count(*) FROM audit_log") == 1


async def test_bad_input_gets_a_problem_and_changes_nothing(api: Api, ppool: Pool) -> None:
    cases = [
        (provider_body(identifiers=[{"scheme": "GB-COH", "id": "123456789"}]), 422, "GB-COH"),
        (provider_body(identifiers=[{"scheme": "XX-NOPE", "id": "1"}]), 422, "unknown"),
        (provider_body(identifiers=[]), 400, "identifiers"),
        (provider_body(kind="partnership"), 400, "kind"),
        (provider_body(colour="blue"), 400, "colour"),
        (provider_body(regions=["atlantis"]), 400, "regions"),
        (
            provider_body(
                identifiers=[
                    {"scheme": "GB-CHC", "id": "216250"},
                    {"scheme": "gb-chc", "id": " 216250"},
                ]
            ),
            422,
            "twice",
        ),
    ]
    for body, status, mentions in cases:
        answer = await api.create("/v1/providers", body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert mentions in answer.text
    assert await count(ppool, "SELECT count(*) FROM providers") == 0
    assert await count(ppool, "SELECT count(*) FROM outbox") == 0


async def test_only_commercial_or_admin_may_register(api: Api) -> None:
    for role, status in ((Role.VIEWER, 403), (Role.OPS, 403), (Role.ADMIN, 201)):
        answer = await api.create("/v1/providers", provider_body(), role)
        assert answer.status_code == status, role


async def test_a_change_needs_the_current_etag_and_says_what_changed(api: Api, ppool: Pool) -> None:
    provider = await api.register()
    path = f"/v1/providers/{provider['id']}"
    missing = await api.http.patch(path, json={"sme": True}, headers=api.headers(Role.COMMERCIAL))
    assert missing.status_code == 428
    stale = await api.http.patch(
        path, json={"sme": True}, headers=api.headers(Role.COMMERCIAL) | {"If-Match": '"7"'}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"1"'
    changed = await api.change("PATCH", path, {"sme": True, "tradingName": "Randstad Education"})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json()["sme"], changed.json()["tradingName"]) == (True, "Randstad Education")
    events = await outbox_events(ppool)
    assert [(e.type, e.sequence) for e in events] == [
        ("providers.provider.registered", 1),
        ("providers.provider.updated", 2),
    ]
    assert events[1].decode_data(dict)["changed"] == ["tradingName", "sme"]
    # The same values again change nothing: no new version, no event.
    again = await api.change("PATCH", path, {"sme": True})
    assert again.headers["ETag"] == '"2"'
    assert len(await outbox_events(ppool)) == 2
    history = (await api.get(f"{path}/history")).json()
    assert history[-1]["before"]["sme"] is False
    assert history[-1]["after"]["sme"] is True


async def test_changing_identifiers_to_one_held_elsewhere_is_refused(api: Api) -> None:
    held = await api.register(identifiers=[{"scheme": "GB-CHC", "id": "1000001"}])
    other = await api.register()
    answer = await api.change(
        "PATCH",
        f"/v1/providers/{other['id']}",
        {"identifiers": [{"scheme": "GB-CHC", "id": "1000001"}]},
    )
    assert answer.status_code == 409
    assert held["id"] in answer.json()["detail"]
    unchanged = await api.get(f"/v1/providers/{other['id']}")
    assert unchanged.json()["identifiers"] == other["identifiers"]


async def test_the_list_filters_searches_and_pages_with_a_cursor(api: Api) -> None:
    names = ["Academy Trust", "Barnardo's", "Fischer Family Trust", "Operam Education Group"]
    for name in names:
        await api.register(legalName=name, kind="charity" if "Trust" in name else "company")
    await api.register(legalName="Zed Tutors", regions=["wales"], sme=True)

    everyone = (await api.get("/v1/providers")).json()
    assert [p["legalName"] for p in everyone["items"]] == [*names, "Zed Tutors"]
    assert everyone["nextCursor"] is None

    first = (await api.get("/v1/providers", limit=2)).json()
    second = (await api.get("/v1/providers", limit=2, cursor=first["nextCursor"])).json()
    assert [p["legalName"] for p in first["items"] + second["items"]] == names

    assert [
        p["legalName"] for p in (await api.get("/v1/providers", q="trust")).json()["items"]
    ] == [
        "Academy Trust",
        "Fischer Family Trust",
    ]
    assert [
        p["legalName"] for p in (await api.get("/v1/providers", kind="charity")).json()["items"]
    ] == [
        "Academy Trust",
        "Fischer Family Trust",
    ]
    only = (await api.get("/v1/providers", region="wales", sme="true")).json()["items"]
    assert [p["legalName"] for p in only] == ["Zed Tutors"]
    identifier = only[0]["identifiers"][0]
    by_id = await api.get("/v1/providers", identifier=f"{identifier['scheme']}:{identifier['id']}")
    assert [p["legalName"] for p in by_id.json()["items"]] == ["Zed Tutors"]
    bad = await api.get("/v1/providers", cursor="not-a-cursor")
    assert bad.status_code == 400


async def test_an_unknown_provider_is_404(api: Api) -> None:
    answer = await api.get("/v1/providers/00000000-0000-4000-8000-000000000000")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_provider_of_a_foreign_register_or_an_ocds_party_is_registered_found_and_unique(
    api: Api, ppool: Pool
) -> None:
    ukrainian = await api.register(
        legalName="Prykladbud LLC",
        identifiers=[{"scheme": "ua-edr", "id": " 02070884 "}],
    )
    assert ukrainian["identifiers"] == [{"scheme": "UA-EDR", "id": "02070884"}]
    party = "ocds-be6bcu-UA-2016-08-31-000670-b/Some Party 1"
    unnamed = await api.register(
        legalName="A party with no identifier",
        identifiers=[{"scheme": "OCDS-PARTY", "id": party}],
    )
    assert unnamed["identifiers"] == [{"scheme": "OCDS-PARTY", "id": party}]

    for typed, holder in (
        ("UA-EDR:02070884", ukrainian),
        ("ua-edr: 02070884", ukrainian),
        (f"OCDS-PARTY:{party}", unnamed),
        (f"ocds-party:{party}", unnamed),
    ):
        found = await api.get("/v1/providers", identifier=typed)
        assert found.status_code == 200, found.text
        assert [p["id"] for p in found.json()["items"]] == [holder["id"]], typed
    # a foreign id is kept as given, so another case is another id
    assert (await api.get("/v1/providers", identifier="UA-EDR:02070884X")).json()["items"] == []
    assert (await api.get("/v1/providers", identifier="OCDS-PARTY:x/Y")).json()["items"] == []
    refused = await api.get("/v1/providers", identifier="NIT:1012362575-0")
    assert refused.status_code == 400
    assert "CC-REGISTER" in refused.json()["detail"]

    duplicates = [
        ({"scheme": "UA-EDR", "id": "02070884"}, ukrainian),
        ({"scheme": "ocds-party", "id": f"{party} "}, unnamed),
    ]
    for identifier, holder in duplicates:
        again = await api.create(
            "/v1/providers", provider_body(legalName="Someone Else", identifiers=[identifier])
        )
        assert again.status_code == 409, again.text
        assert holder["id"] in again.json()["detail"]
    assert await count(ppool, "SELECT count(*) FROM providers") == 2
    assert await count(ppool, "SELECT count(*) FROM provider_identifiers") == 2


async def test_one_question_names_many_identifiers_and_finds_each_holder_once(api: Api) -> None:
    first = await api.register(
        legalName="First Tutors", identifiers=[{"scheme": "GB-COH", "id": "07100001"}]
    )
    second = await api.register(
        legalName="Second Tutors",
        identifiers=[{"scheme": "GB-COH", "id": "07100002"}, {"scheme": "GB-CHC", "id": "1071002"}],
    )
    await api.register(
        legalName="Third Tutors", identifiers=[{"scheme": "GB-COH", "id": "07100003"}]
    )
    asked = ["GB-COH:7100001", "GB-COH:07100002", "GB-CHC:1071002", "GB-COH:07199999"]
    found = await api.get("/v1/providers", identifier=asked, limit=100)
    assert found.status_code == 200, found.text
    assert [p["id"] for p in found.json()["items"]] == [first["id"], second["id"]]

    too_many = [f"GB-COH:{7100000 + n:08d}" for n in range(101)]
    refused = await api.get("/v1/providers", identifier=too_many)
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Validation failed for GET /v1/providers"
    assert refused.json()["errors"] == [
        {"field": "identifier", "message": "Expected `array` of length <= 100"}
    ]
    one_bad = await api.get("/v1/providers", identifier=["GB-COH:07100001", "NIT:1012362575-0"])
    assert one_bad.status_code == 400
    assert "CC-REGISTER" in one_bad.json()["detail"]
    two_lines = await api.get("/v1/providers", identifier=["GB-COH:07100001\nGB-COH:1"])
    assert two_lines.status_code == 400
    assert "not one line" in two_lines.json()["detail"]


async def test_an_identifier_of_no_accepted_scheme_is_422_naming_the_accepted_forms(
    api: Api, ppool: Pool
) -> None:
    for scheme, id in (
        ("NIT", "1012362575-0"),
        ("Nit de Persona Natural", "1012362575-0"),
        ("", "1012362575-0"),
        ("Registro Único de Contribuyente emitido por el Ministerio de Hacienda", "368894-1"),
        ("UA-EDR", "x" * 201),
        ("UA-EDR", " "),
        ("OCDS-PARTY", "no-slash"),
    ):
        answer = await api.create(
            "/v1/providers", provider_body(identifiers=[{"scheme": scheme, "id": id}])
        )
        assert answer.status_code == 422, (scheme, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    answer = await api.create(
        "/v1/providers", provider_body(identifiers=[{"scheme": "NIT", "id": "1012362575-0"}])
    )
    detail = answer.json()["detail"]
    assert all(form in detail for form in ("GB-COH", "CC-REGISTER", "OCDS-PARTY")), detail
    assert await count(ppool, "SELECT count(*) FROM providers") == 0
