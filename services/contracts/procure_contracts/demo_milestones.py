"""The attendance mentors contract's milestones for the demo data: scheduled when it was
signed, settled at the dates the demo gives them. The titles follow the contract's facts
(``domain.md``); the dates of reports and their outcomes are the demo's own. One report is
left scheduled long past its date (the dashboard's overdue list shows it) and the annual
performance assessment (Procurement Act 2023 s.71) falls due in December 2026."""

from __future__ import annotations

from datetime import UTC, date, datetime

from procure_contracts.domain.milestones import MilestoneDraft, MilestoneKind, Settlement
from procure_contracts.usecases import milestones
from procure_contracts.usecases.context import Who
from procure_shared.postgres import Connection

__all__ = ["attendance_milestones"]

D, R = MilestoneKind.DELIVERY, MilestoneKind.REPORTING
# (kind, title, due on, planned pupils, met on and evidence, or None: still scheduled)
PLAN: list[tuple[MilestoneKind, str, date, int | None, tuple[date, str] | None]] = [
    (
        D,
        "Mentors in post in the first Education Investment Area",
        date(2022, 9, 30),
        None,
        (date(2022, 9, 26), "Barnardo's deployment report"),
    ),
    (
        D,
        "500 persistently absent pupils receiving one-to-one mentoring",
        date(2022, 12, 16),
        500,
        (date(2022, 12, 14), "Barnardo's autumn term delivery report"),
    ),
    (
        R,
        "Spring term attendance report",
        date(2023, 4, 5),
        None,
        (date(2023, 4, 12), "Report received by the DfE attendance team"),
    ),
    (R, "Evaluation report on the expanded service", date(2024, 7, 31), None, None),
    (
        R,
        "Annual contract performance assessment (Procurement Act 2023 s.71)",
        date(2026, 12, 11),
        None,
        None,
    ),
]


def _noon(on: date) -> datetime:
    return datetime(on.year, on.month, on.day, 12, tzinfo=UTC)


async def attendance_milestones(
    conn: Connection, contract_id: str, *, who: Who, signed: datetime
) -> None:
    for kind, title, due_on, pupils, outcome in PLAN:
        milestone = await milestones.schedule_milestone(
            conn,
            contract_id,
            MilestoneDraft(
                kind=kind,
                title=title,
                due_on=due_on,
                planned_quantity=pupils,
                quantity_unit="pupils" if pupils else None,
            ),
            who=who,
            now=signed,
        )
        if outcome is not None:
            met_on, evidence = outcome
            await milestones.meet_milestone(
                conn,
                milestone.id,
                Settlement(met_on=met_on, evidence=evidence),
                expected_version=milestone.version,
                who=who,
                now=_noon(met_on),
            )
