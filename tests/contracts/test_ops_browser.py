"""The ops dashboard in a real headless Chromium (Debian's ``chromium``, or the browser
``PROCURE_CHROMIUM`` names), driven by Playwright, against the contracts service behind a real
HTTP server on the demo data with its relay publishing to NATS: sign in, read the overdue list,
follow a contract to its timeline, see an event appear live after an API call. Screenshots go
to ``test-output/ops/`` (kept out of git)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, async_playwright, expect

from procure_contracts.app import definition
from procure_contracts.settings import ContractsOptions
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.messaging.outbox import Relay
from procure_shared.service import build_app
from procure_shared.settings import OidcIssuer
from tests.contracts.conftest import Api
from tests.support.auth import bearer, token
from tests.support.oidc_issuer import local_issuer
from tests.support.runtime import runtime_for
from tests.support.serving import serving
from tests.support.wait import running

pytestmark = pytest.mark.slow

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ops"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """The browser to drive: PROCURE_CHROMIUM, else Debian's chromium. Never downloaded."""
    chosen = os.environ.get("PROCURE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chosen).is_file():
        pytest.fail(
            f"no Chromium at {chosen}: the dashboard's browser test needs one. Install Debian's "
            "(`apt-get install chromium`; `make test` does it when run as root), or set "
            "PROCURE_CHROMIUM to a Chromium or Chrome executable.",
            pytrace=False,
        )
    return chosen


@asynccontextmanager
async def launched(executable: str) -> AsyncIterator[Browser]:
    """Chromium, headless, with a fresh profile (Playwright's launch makes one per run)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def site(
    demo: Api, cpool: Pool, nc: Client, js: JetStreamContext, contracts_url: str
) -> AsyncIterator[str]:
    """The contracts service on the demo data behind uvicorn, its relay running."""
    relay = Relay(service="contracts", dsn=contracts_url, pool=cpool, js=js, poll_interval=0.2)
    runtime = runtime_for("contracts", contracts_url, cpool, nc, js, demo.clock)
    app = build_app(definition(ContractsOptions(eligibility_timeout=1.0)), runtime)
    async with running(relay), serving(cast(Any, app)) as url:
        yield url


async def sign_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/ops")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Bearer token").fill(token(Role.VIEWER, sub="ops-viewer"))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Contracts at a glance")).to_be_visible()


async def test_the_dashboard_in_a_browser_follows_a_contract_and_updates_live(site: str) -> None:
    executable = chromium()  # fails here, saying how to get one, when there is none
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with launched(executable) as browser:
        await _walk_through(site, browser)


async def _walk_through(site: str, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, site)

    overdue = page.locator("table#overdue")
    await expect(overdue).to_contain_text("Evaluation report on the expanded service")
    await expect(page.locator("table#due-soon")).to_contain_text(
        "Annual contract performance assessment"
    )
    await expect(page.locator("table#contracts tbody tr").first).to_contain_text("Red")
    # KPI ratings, worst first, each with its explanation.
    worst = page.locator("table#kpis tbody tr").first
    await expect(worst).to_contain_text("Inadequate")
    await expect(worst).to_contain_text("165,230 pupils against a target of 524,000")
    # Every control has its label, every table its caption.
    unlabelled = await page.evaluate(
        "() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => !e.labels || e.labels.length === 0).map(e => e.name)"
    )
    assert unlabelled == []
    assert await page.locator("table:not(:has(caption))").count() == 0
    # Keyboard first: the skip link, then the page's own controls.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.screenshot(path=OUTPUT / "dashboard.png", full_page=True)

    # Several of its milestones are overdue: follow the first link to the contract.
    await overdue.get_by_role("link", name="Attendance mentors (Barnardo's)").first.click()
    await expect(
        page.get_by_role("heading", name="Attendance mentors (Barnardo's)")
    ).to_be_visible()
    timeline = page.locator("ol#timeline")
    await expect(timeline).to_contain_text("Contract signed")
    await expect(timeline).to_contain_text("Option exercised")
    await expect(page.locator("#live-status")).to_contain_text("Live")

    # Someone records the overdue report met, through the API.
    contract_id = page.url.rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=site, headers=bearer(token(Role.OPS))) as api:
        listed = await api.get(f"/v1/contracts/{contract_id}/milestones")
        report = next(
            m for m in listed.json()["items"] if m["title"].startswith("Evaluation report")
        )
        met = await api.post(
            f"/v1/milestones/{report['id']}/met",
            json={"metOn": "2026-11-30", "evidence": "Evaluation report received"},
            headers={"If-Match": f'"{report["version"]}"'},
        )
        assert met.status_code == 200, met.text

    events = page.locator("ol#events")
    await expect(events.locator("li").first).to_contain_text("contracts.milestone.met")
    await expect(events.locator("li").first).to_contain_text("Evaluation report")
    # The panels are read again: the report is no longer overdue.
    report_row = page.locator("table#milestones tr", has_text="Evaluation report")
    await expect(report_row).to_contain_text("met")
    await expect(report_row).not_to_contain_text("overdue")
    await page.screenshot(path=OUTPUT / "timeline.png", full_page=True)

    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = await phone.new_page()
    await sign_in(small, site)
    await expect(small.locator("table#overdue")).not_to_contain_text("Evaluation report")
    await small.screenshot(path=OUTPUT / "dashboard-phone.png", full_page=True)
    await phone.close()
    await context.close()
    assert (OUTPUT / "timeline.png").stat().st_size > 0


async def test_staff_sign_in_to_the_dashboard_through_their_organisation_in_a_browser(
    cpool: Pool, nc: Client, js: JetStreamContext, contracts_url: str, clock: FixedClock
) -> None:
    """The whole authorization-code flow with PKCE in Chromium, against the local issuer: the
    dashboard sends the browser there, the issuer signs its user in and sends it back, the
    dashboard opens; signing out ends the session, and the dashboard asks for a sign-in
    again."""
    executable = chromium()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    user = {"sub": "olivia@dfe.example", "roles": ["ops"], "buyer": "dfe"}
    with local_issuer(user=user) as issuer:
        runtime = runtime_for("contracts", contracts_url, cpool, nc, js, clock)
        entry = msgspec.convert(issuer.entry(buyerClaim="buyer"), OidcIssuer)
        runtime.settings = msgspec.structs.replace(runtime.settings, oidc_issuers=(entry,))
        options = ContractsOptions(eligibility_timeout=1.0, ops_oidc_client_id="procure-ops")
        app = build_app(definition(options), runtime)
        async with serving(cast(Any, app)) as url, launched(executable) as browser:
            issuer.register_app("procure-ops", f"{url}/ops/sign-in/callback", public=True)
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await page.goto(f"{url}/ops?rag=red")
            await page.get_by_role("link", name="Sign in with your organisation").click()
            await expect(page.get_by_role("heading", name="Contracts at a glance")).to_be_visible()
            assert page.url == f"{url}/ops?rag=red"
            await expect(page.locator("form.who")).to_contain_text("olivia@dfe.example")
            cookies = {c["name"]: c for c in await context.cookies()}
            session = cookies["procure_ops"]
            assert session["httpOnly"]
            assert session["sameSite"] == "Lax"
            await page.screenshot(path=OUTPUT / "signed-in.png", full_page=True)

            await page.get_by_role("button", name="Sign out").click()
            await expect(
                page.get_by_role("link", name="Sign in with your organisation")
            ).to_be_visible()
            await page.goto(f"{url}/ops")
            await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            await context.close()
            # The old cookie, replayed, opens nothing.
            replayed = {"procure_ops": session["value"]}
            async with httpx.AsyncClient(base_url=url, cookies=replayed) as old:
                assert (await old.get("/ops/events")).status_code == 401
