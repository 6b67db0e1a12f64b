"""The demo's milestones, written through the milestone use cases at the dates they happened.

The dates and quantities follow ``domain.md`` (mentoring from September 2022 for 500 to 1,000
pupils; 1,665 pupils in Knowsley, Doncaster, Stoke-on-Trent and Salford from May 2023). The
reporting calendar and who reported when are illustrative: the department did not publish them.
Some are met (one late, one partly); some are still scheduled, so that on any later demo date
the monitor reports them overdue and the dashboard shows them; the annual performance
assessment (s.71) falls due in December 2026.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from procure_contracts.milestones import usecases as milestones
from procure_contracts.milestones.rules import MilestoneDraft, MilestoneKind, Settlement
from procure_contracts.usecases.context import Who
from procure_shared.db.postgres import Connection

__all__ = ["attendance_milestones", "ntp_2021_milestones"]

# (kind, title, due, planned pupils, met on, partly, evidence); not met yet when ``met on`` is None.
_Plan = tuple[MilestoneKind, str, date, int | None, date | None, bool, str | None]

_ATTENDANCE: list[_Plan] = [
    (
        MilestoneKind.DELIVERY,
        "Mentors in post in the first Education Investment Area",
        date(2022, 10, 31),
        500,
        date(2022, 10, 28),
        False,
        "Mentor deployment register, October 2022",
    ),
    (
        MilestoneKind.REPORTING,
        "Termly report: autumn 2022",
        date(2023, 1, 13),
        None,
        date(2023, 1, 12),
        False,
        "Autumn term report received",
    ),
    (
        MilestoneKind.REPORTING,
        "Termly report: spring 2023",
        date(2023, 4, 21),
        None,
        date(2023, 5, 2),  # late
        False,
        "Spring term report received after a reminder",
    ),
    (
        MilestoneKind.DELIVERY,
        "Mentoring under way in Knowsley, Doncaster, Stoke-on-Trent and Salford",
        date(2023, 6, 30),
        1665,
        date(2023, 6, 30),
        True,  # partly: the four areas started, not yet every pupil
        "Caseload returns from the four areas",
    ),
    (
        MilestoneKind.REPORTING,
        "Termly report: summer 2023",
        date(2023, 7, 21),
        None,
        None,
        False,
        None,
    ),
    (
        MilestoneKind.DELIVERY,
        "1,665 pupils and their families supported across the four areas",
        date(2023, 8, 31),
        1665,
        None,
        False,
        None,
    ),
    (
        MilestoneKind.REPORTING,
        "Evaluation report on the expanded service",
        date(2024, 7, 31),
        None,
        None,
        False,
        None,
    ),
    (
        MilestoneKind.REPORTING,
        "Annual contract performance assessment (Procurement Act 2023 s.71)",
        date(2026, 12, 11),
        None,
        None,
        False,
        None,
    ),
]

_NTP_2021: list[_Plan] = [
    (
        MilestoneKind.REPORTING,
        "End-of-year report on starts against the 524,000 and 252,000 targets",
        date(2022, 9, 30),
        None,
        None,
        False,
        None,
    ),
]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def _plan(
    conn: Connection, contract_id: str, plan: list[_Plan], *, scheduled: date, who: Who
) -> None:
    for kind, title, due, planned, met_on, partly, evidence in plan:
        milestone = await milestones.schedule_milestone(
            conn,
            contract_id,
            MilestoneDraft(
                kind=kind,
                title=title,
                due_on=due,
                planned_quantity=planned,
                quantity_unit="pupils" if planned is not None else None,
            ),
            who=who,
            now=_at(scheduled),
        )
        if met_on is not None and evidence is not None:
            await milestones.meet_milestone(
                conn,
                milestone.id,
                Settlement(met_on=met_on, evidence=evidence, partially=partly),
                expected_version=milestone.version,
                who=who,
                now=_at(met_on, 16),
            )


async def attendance_milestones(conn: Connection, contract_id: str, *, who: Who) -> None:
    """Scheduled when the contract was signed (June 2022), settled as they came."""
    await _plan(conn, contract_id, _ATTENDANCE, scheduled=date(2022, 6, 27), who=who)


async def ntp_2021_milestones(conn: Connection, contract_id: str, *, who: Who) -> None:
    """The final report of the 2021/22 strands, due after the contract completed."""
    await _plan(conn, contract_id, _NTP_2021, scheduled=date(2021, 9, 1), who=who)
