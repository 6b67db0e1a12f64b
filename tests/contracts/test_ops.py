"""The ops dashboard through HTTP on the demo data: sign-in and its cookie, what each viewer
may see, the overdue and due-soon lists, RAG statuses, filters, the board's keyset pages, a
contract's timeline, and the counts ``procure status`` reads."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from procure_contracts.ops import store as ops
from procure_contracts.ops.live import watch
from procure_contracts.ops.store import EventLine
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import Envelope, encode_envelope
from procure_shared.http import Role
from tests.contracts.conftest import DEMO_TODAY as TODAY
from tests.contracts.conftest import Api
from tests.support.auth import bearer, token


async def page(
    capi: Api, path: str, role: Role = Role.VIEWER, as_buyer: str | None = "dfe", **params: Any
) -> str:
    answer = await capi.http.get(
        path, headers=bearer(token(role, buyer=as_buyer)), params=params or None
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def table(html: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    return found.group(1) if found else ""


async def test_a_browser_signs_in_once_with_a_pasted_token_in_development_mode(
    capi: Api,
) -> None:
    away = await capi.http.get("/ops", params={"rag": "red"})
    assert away.status_code == 303
    assert away.headers["location"] == "/ops/sign-in?next=%2Fops%3Frag%3Dred"
    form = await capi.http.get("/ops/sign-in", params={"next": "/ops?rag=red"})
    assert '<label for="token">Bearer token</label>' in form.text

    refused = await capi.http.post("/ops/sign-in", data={"token": "not-a-token"})
    assert refused.status_code == 401
    assert 'role="alert"' in refused.text
    forged = await capi.http.post(
        "/ops/sign-in",
        data={"token": token(Role.VIEWER)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert "procure_ops" not in forged.headers.get("set-cookie", "")

    signed = await capi.http.post(
        "/ops/sign-in", data={"token": token(Role.VIEWER), "next": "/ops?rag=red"}
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/ops?rag=red"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/ops" in cookie
    # Elsewhere: never another site, never the sign-in page again.
    elsewhere = await capi.http.post(
        "/ops/sign-in", data={"token": token(Role.VIEWER), "next": "https://example.com/"}
    )
    assert elsewhere.headers["location"] == "/ops"

    opened = await capi.http.get("/ops")  # the client keeps the cookie
    assert opened.status_code == 200
    assert "Contracts at a glance" in opened.text
    assert "default-src 'self'" in opened.headers["content-security-policy"]
    # The cookie opens the dashboard's pages only: the API still wants the header.
    assert (await capi.http.get("/v1/contracts")).status_code == 401

    out = await capi.http.post("/ops/sign-out")
    assert out.status_code == 303
    assert (await capi.http.get("/ops")).status_code == 303


@pytest.mark.check
async def test_the_dashboard_lists_what_is_overdue_and_due_soon_with_each_contracts_rag(
    demo: Api,
) -> None:
    html = await page(demo, "/ops")
    overdue = table(html, "overdue")
    assert "Evaluation report on the expanded service" in overdue
    assert "Attendance mentors (Barnardo&#39;s)" in overdue
    assert "853 days" in overdue  # 31 July 2024 to 1 December 2026
    assert "Spring term attendance report" not in overdue  # met
    due_soon = table(html, "due-soon")
    assert "Annual contract performance assessment" in due_soon
    contracts = table(html, "contracts")
    # Most urgent first: the live contract with an overdue report is red; the completed NTP
    # contract has no RAG.
    assert contracts.index("rag-red") < contracts.index("NTP 2021/22")
    assert "Closed" in contracts
    assert "KPI ratings" in html
    assert '<label for="f-provider">Provider</label>' in html
    assert "Barnardo&#39;s" in html  # a provider to filter by
    assert 'data-stream="/ops/events"' in html

    # A shorter window: the assessment is not due within 7 days, so only the report counts.
    week = await page(demo, "/ops", days="7")
    assert "Annual contract performance assessment" not in table(week, "due-soon")
    green = await page(demo, "/ops", rag="green")
    assert "Attendance mentors" not in table(green, "contracts")
    completed = await page(demo, "/ops", status="completed")
    assert "NTP 2021/22" in table(completed, "contracts")
    assert "Attendance mentors" not in table(completed, "contracts")


async def test_each_viewer_sees_its_buyers_contracts_and_an_admin_chooses_among_buyers(
    demo: Api,
) -> None:
    other = await page(demo, "/ops", as_buyer="dhsc")
    assert "Nothing is overdue." in other
    assert "Attendance mentors" not in other
    sneaky = await page(demo, "/ops", as_buyer="dhsc", buyer="dfe")
    assert "Attendance mentors" not in sneaky
    everyone = await page(demo, "/ops", role=Role.ADMIN, as_buyer=None)
    assert '<label for="f-buyer">Buyer</label>' in everyone
    assert "Evaluation report on the expanded service" in table(everyone, "overdue")
    chosen = await page(demo, "/ops", role=Role.ADMIN, as_buyer=None, buyer="dhsc")
    assert "Evaluation report" not in table(chosen, "overdue")
    # What the page script reads again after a live event: the panels alone.
    panels = await demo.http.get(
        "/ops", headers=bearer(token(Role.ADMIN, buyer=None)) | {"X-Ops-Fragment": "panels"}
    )
    assert "<html" not in panels.text
    assert "Evaluation report on the expanded service" in table(panels.text, "overdue")
    assert '<span class="kind">dfe</span>' in table(panels.text, "contracts")  # whose it is


async def test_a_contracts_timeline_runs_from_tender_to_its_milestones(demo: Api) -> None:
    contracts = (await demo.get("/v1/contracts")).json()["items"]
    mentors = next(c for c in contracts if c["title"].startswith("Attendance mentors"))
    html = await page(demo, f"/ops/contracts/{mentors['id']}")
    steps = re.findall(r'<span class="stage">(\w+)</span>\s*<span class="what">([^<]*)<', html)
    stages = [s for s, _ in steps]
    assert stages[:4] == ["Tender", "Tender", "Award", "Contract"]
    titles = [t for _, t in steps]
    assert titles.index("Contract signed") < titles.index(
        "Mentors in post in the first Education Investment Area"
    )
    assert any(t.startswith("Option exercised") for t in titles)
    assert "state-overdue" in html
    assert f'data-stream="/ops/events?contract={mentors["id"]}"' in html
    unseen = await demo.http.get(
        f"/ops/contracts/{mentors['id']}", headers=bearer(token(Role.VIEWER, buyer="dhsc"))
    )
    assert unseen.status_code == 404


async def test_the_summary_counts_overdue_and_due_soon_milestones_for_procure_status(
    demo: Api,
) -> None:
    summary = (await demo.get("/v1/milestones/summary")).json()
    # The attendance mentors' summer 2023 report, 1,665-pupil milestone and 2024 evaluation
    # report, and the completed 2021/22 contract's final report; the annual assessment soon.
    assert summary == {"today": "2026-12-01", "overdue": 4, "dueSoon": 1, "dueSoonDays": 14}
    assert (await demo.get("/v1/milestones/summary", days=7)).json()["dueSoon"] == 0
    assert (await demo.get("/v1/milestones/summary", buyer="dhsc")).json()["overdue"] == 0


async def test_the_board_pages_by_urgency_with_a_keyset_cursor(demo: Api, cpool: Pool) -> None:
    scope = ops.Scope(buyer="dfe", today=date(2026, 12, 1), days=14)
    first = await ops.board(cpool, scope, limit=1)
    assert first.tiles == {"red": 1, "amber": 0, "green": 0, "closed": 1}
    assert [c.rag for c in first.items] == ["red"]
    second = await ops.board(cpool, scope, after=first.cursor_after(1), limit=1)
    assert [(c.rag, c.status) for c in second.items] == [(None, "completed")]
    last = await ops.board(cpool, scope, after=second.cursor_after(1), limit=1)
    assert last.items == []


def _event(buyer: str | None, contract: str) -> bytes:
    return encode_envelope(
        Envelope.new(
            service="contracts",
            type="contracts.milestone.met",
            subject="m1",
            time=TODAY,
            sequence=2,
            data={"contractId": contract, "title": "Report", "status": "met"},
            buyer_id=buyer,
        )
    )


async def test_a_live_page_gets_only_its_buyers_events_and_its_contracts() -> None:
    page = watch("dfe", "c1")
    for payload in (_event("dhsc", "c1"), _event("dfe", "c2"), b"not an event"):
        page.offer(payload)
    assert await page.next(0.01) is None
    met = _event("dfe", "c1")
    page.offer(met)
    page.offer(met)  # a relay's retried publish reaches core subscribers again: shown once
    seen = await page.next(0.01)
    assert isinstance(seen, EventLine)
    assert (seen.contract_id, seen.title, seen.status) == ("c1", "Report", "met")
    assert await page.next(0.01) is None


async def test_a_live_contract_is_red_when_overdue_amber_when_due_soon_and_green_otherwise(
    demo: Api, cpool: Pool
) -> None:
    async def rag_on(today: date) -> str | None:
        board = await ops.board(cpool, ops.Scope(buyer="dfe", today=today, days=14))
        live = [c for c in board.items if c.status == "active"]
        return live[0].rag

    # The summer 2023 report is due on 21 July 2023; everything before it was settled.
    assert await rag_on(date(2023, 7, 1)) == "green"
    assert await rag_on(date(2023, 7, 10)) == "amber"
    assert await rag_on(date(2023, 7, 22)) == "red"


async def test_kpi_ratings_show_worst_first_with_their_explanation_and_an_inadequate_one_reddens(
    demo: Api, cpool: Pool
) -> None:
    panel = table(await page(demo, "/ops"), "kpis")
    # The 2021/22 tuition partners' starts against the tutoring target lead the panel.
    assert panel.index("Inadequate") < panel.index("Good")
    assert "165,230 pupils against a target of 524,000 (31.5% of target)" in panel

    # A term in which Barnardo's reached only 100 pupils: the contract turns red for it,
    # even on a day when no milestone is overdue or due soon.
    contracts = (await demo.get("/v1/contracts")).json()["items"]
    mentors = next(c for c in contracts if c["title"].startswith("Attendance mentors"))
    kpis = (await demo.get(f"/v1/contracts/{mentors['id']}/kpis")).json()["items"]
    pupils = next(k for k in kpis if k["name"] == "Persistently absent pupils supported")
    board = await ops.board(cpool, ops.Scope(buyer="dfe", today=date(2023, 7, 1), days=14))
    assert [c.rag for c in board.items if c.status == "active"] == ["green"]
    observed = await demo.create(
        f"/v1/kpis/{pupils['id']}/observations",
        {
            "periodStart": "2023-09-01",
            "periodEnd": "2023-12-31",
            "value": "100",
            "dimensionValue": "Knowsley",
            "source": "Barnardo's termly return",
        },
        role=Role.OPS,
    )
    assert observed.status_code == 201, observed.text
    board = await ops.board(cpool, ops.Scope(buyer="dfe", today=date(2023, 7, 1), days=14))
    assert [c.rag for c in board.items if c.status == "active"] == ["red"]
    panel = table(await page(demo, "/ops"), "kpis")
    assert panel.index("Persistently absent pupils supported") < panel.index("Good")
