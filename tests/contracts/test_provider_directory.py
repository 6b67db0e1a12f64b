"""The contracts service knows providers only from the providers service's events: registered
and renamed providers reach its directory through the relay and JetStream, and awards and
contracts show their names."""

from __future__ import annotations

from procure_providers.api.rpc import EligibilityResponder
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.messaging.consumer import Consumer
from tests.contracts.conftest import Api
from tests.providers.conftest import Api as ProvidersApi
from tests.support.wait import equals, eventually


async def _name_of(cpool: Pool, provider_id: str) -> str | None:
    async with cpool.acquire() as conn:
        name: str | None = await conn.fetchval(
            "SELECT legal_name FROM provider_directory WHERE id = $1", provider_id
        )
        return name


async def test_the_directory_follows_the_providers_events_and_awards_show_the_name(
    capi: Api,
    papi: ProvidersApi,
    eligibility: EligibilityResponder,
    cpool: Pool,
    provider_events: Consumer,
) -> None:
    provider = await papi.register(legalName="Barnardo's")
    await papi.accredit(provider["id"], category="attendance_mentoring")
    await eventually(
        lambda: equals(_name_of(cpool, provider["id"]), "Barnardo's"), what="registered"
    )
    renamed = await papi.http.patch(
        f"/v1/providers/{provider['id']}",
        json={"legalName": "Barnardo's Services Limited"},
        headers=papi.headers(Role.COMMERCIAL) | {"If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    await eventually(
        lambda: equals(_name_of(cpool, provider["id"]), "Barnardo's Services Limited"),
        what="renamed",
    )
    assert provider_events.stats.applied >= 2

    tender, (lot,) = await capi.closed_tender(category="attendance_mentoring")
    made = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards", capi.award_body(provider["id"])
    )
    assert made["items"][0]["providerName"] == "Barnardo's Services Limited"
    contract = await capi.made(
        "/v1/contracts", {"awardIds": [made["items"][0]["id"]], "title": "Attendance mentors"}
    )
    assert contract["suppliers"] == [{"id": provider["id"], "name": "Barnardo's Services Limited"}]
