"""The contracts service's rules by themselves: the tender state machine, amendment and option
arithmetic, the milestone monitor's notices, and an OCDS process mapped into our aggregates.
(The KPI ratings have their own file; the HTTP, database and event wiring of the same rules is
tested in tests/contracts.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import msgspec
import pytest

from procure_contracts.contracts import rules as contracts
from procure_contracts.contracts.rules import (
    AmendmentDraft,
    Contract,
    ContractStatus,
    Exercise,
    OptionDraft,
    ValueChange,
)
from procure_contracts.domain.money import Money
from procure_contracts.milestones.due import due_notice, noticed
from procure_contracts.milestones.rules import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    NoticeKind,
)
from procure_contracts.ocds.mapping_in import Provider, map_process
from procure_contracts.tenders import rules as tenders
from procure_contracts.tenders.rules import (
    TENDER_MOVES,
    Lot,
    LotDraft,
    LotStatus,
    Tender,
    TenderDraft,
    TenderStatus,
)
from procure_shared.categories import Category
from procure_shared.errors import Conflict, RuleBroken
from tests.unit.contracts.aggregates import DEADLINE, NOW, a_contract


def a_tender(status: TenderStatus = TenderStatus.DRAFT) -> Tender:
    made = tenders.draft(
        TenderDraft(title="National Tutoring Programme", submission_deadline=DEADLINE),
        id="t1",
        buyer_id="dfe",
        now=NOW,
    )
    return msgspec.structs.replace(made, status=status)


def a_lot(tender: Tender, status: LotStatus = LotStatus.ACTIVE) -> Lot:
    made = tenders.add_lot(
        a_tender(),
        LotDraft(title="North East", category=Category.TUITION_DELIVERY),
        id="l1",
        now=NOW,
    )
    return msgspec.structs.replace(made, tender_id=tender.id, status=status)


def test_a_tender_goes_from_draft_to_complete_once_its_lots_are_awarded() -> None:
    draft = a_tender()
    lot = tenders.add_lot(
        draft, LotDraft(title="North East", category=Category.TUITION_DELIVERY), id="l1", now=NOW
    )
    published = tenders.publish(draft, [lot], now=NOW)
    closed = tenders.close(published, now=DEADLINE)
    with pytest.raises(RuleBroken, match="every lot must be awarded"):
        tenders.complete(closed, [lot], now=DEADLINE)
    awarded = tenders.lot_awarded(lot, now=DEADLINE)
    complete = tenders.complete(closed, [awarded], now=DEADLINE)
    assert [t.status for t in (draft, published, closed, complete)] == [
        TenderStatus.DRAFT,
        TenderStatus.PUBLISHED,
        TenderStatus.CLOSED,
        TenderStatus.COMPLETE,
    ]
    assert [t.version for t in (draft, published, closed, complete)] == [1, 2, 3, 4]


def test_a_tender_is_published_only_with_a_lot_and_closed_only_after_its_deadline() -> None:
    draft = a_tender()
    with pytest.raises(RuleBroken, match="at least one lot"):
        tenders.publish(draft, [], now=NOW)
    published = tenders.publish(draft, [a_lot(draft)], now=NOW)
    with pytest.raises(RuleBroken, match="submissions are open"):
        tenders.close(published, now=DEADLINE - timedelta(seconds=1))


@pytest.mark.parametrize("status", list(TenderStatus))
def test_every_move_the_state_machine_does_not_allow_is_refused_naming_where_it_may_go(
    status: TenderStatus,
) -> None:
    tender = a_tender(status)
    lots = [a_lot(tender)]
    moves: dict[TenderStatus, Callable[[], Tender]] = {
        TenderStatus.PUBLISHED: lambda: tenders.publish(tender, lots, now=NOW),
        TenderStatus.CLOSED: lambda: tenders.close(tender, now=DEADLINE),
        TenderStatus.CANCELLED: lambda: tenders.cancel(tender, lots, "withdrawn", now=NOW),
    }
    for to, move in moves.items():
        if to in TENDER_MOVES[status]:
            assert move().status is to
        else:
            with pytest.raises(Conflict) as refused:
                move()
            assert (refused.value.current, refused.value.allowed) == (
                status,
                TENDER_MOVES[status],
            )


def value_change(amount: str) -> AmendmentDraft:
    return AmendmentDraft(
        change=ValueChange(change=Money(amount=Decimal(amount))), rationale="more pupils"
    )


def test_the_current_value_is_the_original_plus_amendments_plus_exercised_options() -> None:
    def amend(contract: Contract, amount: str, n: int) -> Contract:
        return contracts.amend(
            contract,
            value_change(amount),
            id=f"am{n}",
            by="olivia",
            names={},
            threshold=Decimal("0.5"),
            now=NOW,
        )

    grown = amend(amend(a_contract(), "250000.00", 1), "-50000.00", 2)
    assert (grown.amendments_value, grown.current_value) == (
        Decimal("200000.00"),
        Money(amount=Decimal("1200000.00")),
    )
    with_option = contracts.add_option(
        grown,
        OptionDraft(description="A second year", value=Money(amount=Decimal("300000.00"))),
        id="o1",
        now=NOW,
    )
    assert with_option.current_value == grown.current_value  # given, not yet exercised
    used = contracts.exercise(
        with_option, "o1", Exercise(on=date(2027, 3, 1)), threshold=Decimal("0.5"), now=NOW
    )
    assert used.current_value == Money(amount=Decimal("1500000.00"))
    assert not used.threshold_exceeded


def test_amendments_past_the_threshold_flag_the_contract_and_a_zero_change_is_refused() -> None:
    flagged = contracts.amend(
        a_contract(),
        value_change("-150000.00"),
        id="am1",
        by="olivia",
        names={},
        threshold=Decimal("0.1"),
        now=NOW,
    )
    assert flagged.threshold_exceeded
    with pytest.raises(RuleBroken, match="changes the value"):
        contracts.amend(
            a_contract(),
            value_change("0.00"),
            id="am2",
            by="olivia",
            names={},
            threshold=Decimal("0.1"),
            now=NOW,
        )


def a_milestone(due_on: date) -> Milestone:
    return Milestone(
        id="m1",
        buyer_id="dfe",
        contract_id="c1",
        lot_id=None,
        kind=MilestoneKind.REPORTING,
        title="Summer report",
        description=None,
        due_on=due_on,
        planned_quantity=None,
        quantity_unit=None,
        amount=None,
        status=MilestoneStatus.SCHEDULED,
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_milestone_is_noticed_due_soon_then_overdue_once_each_and_afresh_when_moved() -> None:
    due = date(2026, 7, 21)
    milestone = a_milestone(due)

    def owed(m: Milestone, today: date) -> NoticeKind | None:
        return due_notice(m, today=today, lead_days=14)

    assert owed(milestone, due - timedelta(days=15)) is None
    assert owed(milestone, due - timedelta(days=14)) is NoticeKind.DUE_SOON
    soon = noticed(milestone, NoticeKind.DUE_SOON, today=due - timedelta(days=14), now=NOW)
    assert owed(soon, due) is None  # once per due date
    assert owed(soon, due + timedelta(days=1)) is NoticeKind.OVERDUE
    late = noticed(soon, NoticeKind.OVERDUE, today=due + timedelta(days=1), now=NOW)
    assert owed(late, due + timedelta(days=30)) is None
    moved = msgspec.structs.replace(late, due_on=date(2026, 9, 1))
    assert owed(moved, date(2026, 8, 25)) is NoticeKind.DUE_SOON
    settled = msgspec.structs.replace(milestone, status=MilestoneStatus.MET)
    assert owed(settled, due + timedelta(days=1)) is None


def test_a_milestone_found_already_overdue_gets_only_the_overdue_notice() -> None:
    due = date(2026, 7, 21)
    assert due_notice(a_milestone(due), today=due + timedelta(days=3), lead_days=14) is (
        NoticeKind.OVERDUE
    )


def test_a_small_ocds_process_becomes_a_tender_a_lot_an_award_and_a_contract() -> None:
    compiled = {
        "ocid": "ocds-test-1",
        "id": "ocds-test-1-compiled",
        "date": "2024-03-01T10:00:00+01:00",
        "tag": ["compiled"],
        "tender": {
            "id": "t",
            "title": "Attendance mentors",
            "status": "complete",
            "value": {"amount": 55463.776, "currency": "GBP"},
        },
        "parties": [{"id": "GB-COH-1", "name": "Mentors Ltd", "roles": ["supplier"]}],
        "awards": [
            {
                "id": "A1",
                "status": "active",
                "value": {"amount": 100, "currency": "GBP"},
                "suppliers": [{"id": "GB-COH-1", "name": "Mentors Ltd"}],
            }
        ],
        "contracts": [{"id": "C1", "awardID": "A1", "status": "active", "title": "Mentoring"}],
    }
    mapped = map_process(
        compiled,
        buyer_id="dfe",
        source="test",
        actor="admin",
        at=NOW,
        providers={"GB-COH-1": Provider(id="p1", name="Mentors Ltd")},
    )
    assert mapped.tender.title == "Attendance mentors"
    assert mapped.tender.status is TenderStatus.COMPLETE
    assert mapped.tender.value == Money(amount=Decimal("55463.776"))  # kept as written
    assert len(mapped.lots) == 1  # the one lot a process without lots is given
    assert [a.imported.ocds_id for a in mapped.awards if a.imported] == ["A1"]
    assert [(c.title, c.status) for c in mapped.contracts] == [("Mentoring", ContractStatus.ACTIVE)]
    assert mapped.contracts[0].award_ids == [mapped.awards[0].id]
    assert mapped.tender.imported is not None
    assert mapped.tender.imported.ocid == "ocds-test-1"
