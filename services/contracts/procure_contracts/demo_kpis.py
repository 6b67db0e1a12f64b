"""The demo KPIs and their observations (``domain.md``), recorded through the use cases at the
dates of the stories in ``demo.py``: the 2021/22 NTP strands' starts against their targets,
and the attendance mentors' pupils by area after the May 2023 expansion."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from procure_contracts.kpis import usecases as kpis
from procure_contracts.kpis.observations import ObservationDraft
from procure_contracts.kpis.ratings import Exact, Range
from procure_contracts.kpis.rules import Dimension, KpiChanges, KpiDraft
from procure_contracts.usecases.context import Who
from procure_shared.db.audit import Actor
from procure_shared.db.postgres import Connection

__all__ = ["attendance_kpis", "attendance_pupils_by_area", "ntp_kpis", "ntp_starts"]

AREAS = ("Knowsley", "Doncaster", "Stoke-on-Trent", "Salford")
# Only the total (1,665) is public: this split across the four areas is the demo's own.
PUPILS_BY_AREA = dict(zip(AREAS, (420, 455, 410, 380), strict=True))
# KPIs defined a minute apart are listed in that order.
MINUTE = timedelta(minutes=1)


def _ops(commercial: Who) -> Who:
    """Operations staff of the demo buyer record the figures."""
    return Who(
        actor=Actor(id=commercial.actor.id, roles=("ops",), buyer_id=commercial.actor.buyer_id),
        scope=commercial.scope,
    )


async def ntp_kpis(
    conn: Connection, who: Who, contract_id: str, partners_lot: str, mentors_lot: str, on: datetime
) -> tuple[str, str]:
    """The 2021/22 strands' targets: 524,000 pupils in subsidised tutoring (tuition partners),
    252,000 pupils supported by academic mentors."""
    tutoring = await kpis.define_kpi(
        conn,
        contract_id,
        KpiDraft(
            name="Pupils starting subsidised tutoring through tuition partners",
            unit="pupils",
            target=Exact(value=Decimal(524000)),
            lot_id=partners_lot,
            description="Target: 524,000 pupils in subsidised tutoring.",
        ),
        who=who,
        now=on,
    )
    mentoring = await kpis.define_kpi(
        conn,
        contract_id,
        KpiDraft(
            name="Pupils supported by academic mentors",
            unit="pupils",
            target=Exact(value=Decimal(252000)),
            lot_id=mentors_lot,
            description="Target: 252,000 pupils supported by academic mentors.",
        ),
        who=who,
        now=on + MINUTE,
    )
    return tutoring.id, mentoring.id


async def ntp_starts(
    conn: Connection, who: Who, tutoring: str, mentoring: str, on: datetime
) -> None:
    """Starts in academic year 2021/22: 165,230 through tuition partners, 118,714 with academic
    mentors."""
    for kpi_id, starts in ((tutoring, 165230), (mentoring, 118714)):
        await kpis.record_observation(
            conn,
            kpi_id,
            ObservationDraft(
                period_start=date(2021, 9, 1),
                period_end=date(2022, 8, 31),
                value=Decimal(starts),
                source="National Tutoring Programme starts, academic year 2021/22",
            ),
            who=_ops(who),
            now=on,
        )


async def attendance_kpis(conn: Connection, who: Who, contract_id: str, on: datetime) -> list[str]:
    """Three KPIs drawn from the contract notice's terms (March 2022), though at exactly £5m
    s.52 does not ask for them: pupils supported (500 to 1,000), the areas served (one
    priority Education Investment Area to start), and one-to-one mentoring (qualitative)."""
    drafts = [
        KpiDraft(
            name="Persistently absent pupils supported",
            unit="pupils",
            target=Range(min=Decimal(500), max=Decimal(1000)),
            description="Pupils who missed more than 10% of sessions, supported with "
            "one-to-one mentoring.",
        ),
        KpiDraft(
            name="Areas where mentoring is delivered",
            unit="areas",
            target=Exact(value=Decimal(1)),
            description="One priority Education Investment Area (of 55) from September 2022; "
            "an option to scale up to more areas.",
        ),
        KpiDraft(
            name="Mentoring is one-to-one",
            description="Each pupil supported has a mentor of their own.",
        ),
    ]
    return [
        (await kpis.define_kpi(conn, contract_id, draft, who=who, now=on + n * MINUTE)).id
        for n, draft in enumerate(drafts)
    ]


async def _observe(
    conn: Connection, who: Who, kpi_id: str, d: ObservationDraft, on: datetime
) -> None:
    await kpis.record_observation(conn, kpi_id, d, who=_ops(who), now=on)


async def attendance_pupils_by_area(
    conn: Connection, who: Who, kpi_ids: list[str], expanded: datetime, reported: datetime
) -> None:
    """The May 2023 expansion: the pupils KPI is broken down by area from then on, and
    1,665 persistently and severely absent children are supported across the four areas."""
    pupils, areas, _ = kpi_ids
    current = await kpis.get_kpi(conn, pupils, who=who)
    await kpis.update_kpi(
        conn,
        pupils,
        KpiChanges(dimension=Dimension(name="area", values=list(AREAS))),
        expected_version=current.version,
        who=who,
        now=expanded,
    )
    first = ObservationDraft(
        period_start=date(2022, 9, 1),
        period_end=date(2023, 5, 14),
        value=Decimal(1),
        note="One priority Education Investment Area",
    )
    await _observe(conn, who, areas, first, expanded)
    start, end = date(2023, 5, 15), date(2023, 8, 31)
    four = ObservationDraft(
        period_start=start, period_end=end, value=Decimal(len(AREAS)), note=", ".join(AREAS)
    )
    await _observe(conn, who, areas, four, reported)
    for area, count in PUPILS_BY_AREA.items():
        by_area = ObservationDraft(
            period_start=start,
            period_end=end,
            value=Decimal(count),
            dimension_value=area,
            note="Persistently and severely absent children (the split by area is the demo's)",
        )
        await _observe(conn, who, pupils, by_area, reported)
