"""The contracts demo data (``python -m procure_contracts demo``; ``make up`` runs it on first
run), from ``domain.md``: the 2021/22 NTP strands held by Randstad (values unknown, not zero)
with their targets and starts as KPIs, the attendance-mentors tender awarded to Barnardo's
with its contract and KPIs, the option to scale up and its exercise in May 2023 (pupils by
area), and the NTP delivery support tender with its three lots; the contracts' milestones
(``demo_milestones.py``).

Each story is written through the same use cases as the API, at the dates it happened (the
audit trail and ``?asOf=`` reads show the history), in one transaction; a story whose tender
exists already is skipped, so a second run changes nothing. Providers are looked up by their
demo identifiers in the provider directory, which the providers service's events fill.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from nats.aio.client import Client

from procure_contracts import demo_kpis
from procure_contracts.clients.providers_rpc import eligibility_over_nats
from procure_contracts.contracts import usecases as contracts
from procure_contracts.contracts.rules import ContractDraft, Exercise, OptionDraft
from procure_contracts.demo_milestones import attendance_milestones, ntp_2021_milestones
from procure_contracts.domain.money import Money
from procure_contracts.storage.directory import provider_by_identifier
from procure_contracts.tenders import awards_usecases as awards
from procure_contracts.tenders import store as tender_store
from procure_contracts.tenders import usecases as tenders
from procure_contracts.tenders.awards_rules import AwardDraft, AwardItem
from procure_contracts.tenders.rules import LotDraft, TenderDraft
from procure_contracts.usecases.context import AskEligibility, Rules, Who
from procure_shared.categories import Category
from procure_shared.db.audit import Actor
from procure_shared.db.postgres import Connection, Pool

__all__ = ["DEMO_BUYER", "load_demo"]

DEMO_BUYER = "dfe"  # the Department for Education
RANDSTAD = "GB-COH:99000001"  # demo identifiers of the providers service's demo data
BARNARDOS = "GB-CHC:9990001"
WHO = Who(
    actor=Actor(id="demo-loader", roles=("commercial",), buyer_id=DEMO_BUYER), scope=DEMO_BUYER
)


def _at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _gbp(amount: str) -> Money:
    return Money(amount=Decimal(amount))


Story = Callable[[Connection, AskEligibility, dict[str, str]], Awaitable[None]]


async def _tender(
    conn: Connection,
    title: str,
    description: str,
    value: Money | None,
    drafted: datetime,
    enquiry: datetime | None,
    deadline: datetime,
    lots: list[tuple[str, Category, Money | None]],
) -> tuple[str, list[str]]:
    """A tender drafted, with its lots, published the same day and closed after its deadline."""
    tender = await tenders.draft_tender(
        conn,
        TenderDraft(
            title=title,
            description=description,
            value=value,
            enquiry_deadline=enquiry,
            submission_deadline=deadline,
        ),
        who=WHO,
        now=drafted,
    )
    lot_ids = [
        (
            await tenders.add_lot(
                conn,
                tender.id,
                LotDraft(title=lot_title, category=category, value=lot_value),
                who=WHO,
                now=drafted,
            )
        ).id
        for lot_title, category, lot_value in lots
    ]
    for move, when in (("publish", drafted), ("close", deadline + timedelta(days=3))):
        current = await tenders.get_tender(conn, tender.id, who=WHO)
        await tenders.move_tender(
            conn, tender.id, move, reason=None, expected_version=current.version, who=WHO, now=when
        )
    return tender.id, lot_ids


async def _award(
    conn: Connection,
    ask: AskEligibility,
    tender_id: str,
    lot_id: str,
    provider_id: str,
    value: Money | None,
    on: datetime,
    standstill: timedelta,
) -> str:
    made = await awards.award_lot(
        conn,
        tender_id,
        lot_id,
        AwardDraft(
            providers=[AwardItem(provider_id=provider_id, value=value)],
            date=on,
            standstill_ends=on + standstill,
        ),
        ask=ask,
        who=WHO,
        now=on,
    )
    return made[0].id


async def _complete_tender(conn: Connection, tender_id: str, on: datetime) -> None:
    current = await tenders.get_tender(conn, tender_id, who=WHO)
    await tenders.move_tender(
        conn, tender_id, "complete", reason=None, expected_version=current.version, who=WHO, now=on
    )


async def ntp_2021(conn: Connection, ask: AskEligibility, providers: dict[str, str]) -> None:
    """The 2021/22 strands operated by Randstad: tuition partners and academic mentors.
    Their contract values were not published: unknown here, not zero."""
    tender_id, (partners, mentors) = await _tender(
        conn,
        "National Tutoring Programme 2021/22: tuition partners and academic mentors",
        "The two strands of the NTP operated by a contractor in 2021/22 (school-led tutoring "
        "was organised by schools). Starts this year: 165,230 through tuition partners and "
        "118,714 with academic mentors. Contract values were not published.",
        None,
        _at("2021-03-01"),
        None,
        _at("2021-04-30", 12),
        [
            (
                "Tuition partners: quality assurance and operation",
                Category.TUITION_PARTNER_QA,
                None,
            ),
            ("Academic mentors: recruitment and deployment", Category.ACADEMIC_MENTORING, None),
        ],
    )
    on = _at("2021-09-01")
    award_ids = [
        await _award(conn, ask, tender_id, lot, providers[RANDSTAD], None, on, timedelta(0))
        for lot in (partners, mentors)
    ]
    await _complete_tender(conn, tender_id, on)
    contract = await contracts.create_contract(
        conn,
        ContractDraft(
            award_ids=award_ids,
            title="NTP 2021/22 tuition partners and academic mentors (Randstad)",
            description="Targets: 524,000 pupils in subsidised tutoring; 252,000 pupils "
            "supported by academic mentors.",
            starts_on=date(2021, 9, 1),
            ends_on=date(2022, 8, 31),
        ),
        who=WHO,
        now=on,
    )
    tutoring, mentoring = await demo_kpis.ntp_kpis(conn, WHO, contract.id, partners, mentors, on)
    signed = await contracts.sign_contract(
        conn, contract.id, expected_version=contract.version, who=WHO, now=on + timedelta(hours=1)
    )
    await ntp_2021_milestones(conn, contract.id, who=WHO)
    await demo_kpis.ntp_starts(conn, WHO, tutoring, mentoring, _at("2022-08-31", 12))
    await contracts.close_contract(
        conn,
        contract.id,
        "complete",
        on=date(2022, 8, 31),
        reason=None,
        expected_version=signed.version,
        who=WHO,
        now=_at("2022-08-31", 17),
    )


async def attendance_mentors(
    conn: Connection, ask: AskEligibility, providers: dict[str, str]
) -> None:
    """Contract notice March 2022, £5m, delivered by Barnardo's; scaled up in May 2023."""
    tender_id, (lot,) = await _tender(
        conn,
        "Attendance mentors",
        "One-to-one mentoring for 500 to 1,000 persistently absent pupils (more than 10% of "
        "sessions missed) in one priority Education Investment Area (of 55) from September "
        "2022, with an option to scale up to multiple areas nationally.",
        _gbp("5000000"),
        _at("2022-03-07"),
        _at("2022-03-25", 12),
        _at("2022-04-08", 12),
        [
            (
                "Attendance mentoring in a priority Education Investment Area",
                Category.ATTENDANCE_MENTORING,
                _gbp("5000000"),
            )
        ],
    )
    award_id = await _award(
        conn,
        ask,
        tender_id,
        lot,
        providers[BARNARDOS],
        _gbp("5000000"),
        _at("2022-06-15"),
        timedelta(days=10),
    )
    await _complete_tender(conn, tender_id, _at("2022-06-27"))
    contract = await contracts.create_contract(
        conn,
        ContractDraft(
            award_ids=[award_id],
            title="Attendance mentors (Barnardo's)",
            description="Delivered by Barnardo's after a pilot in Middlesbrough.",
            starts_on=date(2022, 9, 1),
            scope="500 to 1,000 persistently absent pupils in one priority Education "
            "Investment Area",
        ),
        who=WHO,
        now=_at("2022-06-27"),
    )
    kpi_ids = await demo_kpis.attendance_kpis(conn, WHO, contract.id, _at("2022-06-27", 11))
    signed = await contracts.sign_contract(
        conn, contract.id, expected_version=contract.version, who=WHO, now=_at("2022-06-27", 15)
    )
    await attendance_milestones(conn, contract.id, who=WHO)
    with_option = await contracts.add_option(
        conn,
        signed.id,
        OptionDraft(
            description="Scale up to multiple areas nationally",
            scope="More Education Investment Areas, more persistently and severely absent "
            "pupils (severely absent: more than 50% of sessions missed)",
        ),
        who=WHO,
        now=_at("2022-06-27", 15),
    )
    await contracts.exercise_option(
        conn,
        signed.id,
        with_option.options[0].id,
        Exercise(
            on=date(2023, 5, 15),
            note="Expanded to 1,665 persistently and severely absent children and their "
            "families across Knowsley, Doncaster, Stoke-on-Trent and Salford",
        ),
        expected_version=with_option.version,
        rules_=Rules(),
        who=WHO,
        now=_at("2023-05-15"),
    )
    await demo_kpis.attendance_pupils_by_area(
        conn, WHO, kpi_ids, _at("2023-05-15", 10), _at("2023-09-04")
    )


async def delivery_support(
    conn: Connection, ask: AskEligibility, providers: dict[str, str]
) -> None:
    """NTP delivery support (2022): up to three providers for two years; bids closed in June
    2022; in evaluation here."""
    await _tender(
        conn,
        "National Tutoring Programme delivery support",
        "Up to three providers, for two years, to support delivery of the National Tutoring "
        "Programme from 2022/23.",
        _gbp("17892600"),
        _at("2022-05-03"),
        _at("2022-05-27", 12),
        _at("2022-06-10", 12),
        [
            (
                "Lot 1: recruit and deploy academic mentors",
                Category.ACADEMIC_MENTORING,
                _gbp("7987500"),
            ),
            ("Lot 2: train tutors and academic mentors", Category.TUTOR_TRAINING, _gbp("7423500")),
            (
                "Lot 3: recruit quality-assured tuition partners",
                Category.TUITION_PARTNER_QA,
                _gbp("2481600"),
            ),
        ],
    )


STORIES: dict[str, Story] = {
    "National Tutoring Programme 2021/22: tuition partners and academic mentors": ntp_2021,
    "Attendance mentors": attendance_mentors,
    "National Tutoring Programme delivery support": delivery_support,
}


async def _providers(pool: Pool, wait: float) -> dict[str, str]:
    """The demo providers' ids, once the provider directory has them."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        async with pool.acquire() as conn:
            found = {i: await provider_by_identifier(conn, i) for i in (RANDSTAD, BARNARDOS)}
        if all(found.values()):
            return {i: p for i, p in found.items() if p}
        if asyncio.get_running_loop().time() > deadline:
            missing = ", ".join(i for i, p in found.items() if not p)
            raise RuntimeError(
                f"the provider directory lacks {missing} after {wait:g} s: load the providers' "
                "demo data first (their events fill the directory)"
            )
        await asyncio.sleep(0.2)


async def _exists(conn: Connection, title: str) -> bool:
    found = await tender_store.list_tenders(
        conn, tender_store.TenderFilter(buyer=DEMO_BUYER, search=title, limit=200)
    )
    return any(t.title == title for t in found)


async def load_demo(
    pool: Pool, nc: Client, *, ask: AskEligibility | None = None, wait: float = 60.0
) -> str:
    asking = ask or eligibility_over_nats(nc, timeout=5.0)
    providers = await _providers(pool, wait)
    loaded = []
    for title, story in STORIES.items():
        async with pool.acquire() as conn, conn.transaction():
            if await _exists(conn, title):
                continue
            await story(conn, asking, providers)
            loaded.append(title)
    if not loaded:
        return "contracts demo data: already loaded"
    return f"contracts demo data: {len(loaded)} tenders with their lots, awards and contracts"
