"""The state machines of tenders, lots and contracts, driven by hypothesis against the rules
themselves (no HTTP, no database: thousands of steps a second). After every step: no status
moved outside its machine, a refused step changed nothing and said where the resource may go,
every change took one version, a complete tender's lots are all settled with one awarded, and a
contract's current value is its original value plus its amendments plus the options exercised.
tests/contracts/test_state_machine.py runs a shorter sequence of the same kind through HTTP,
PostgreSQL and NATS."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from procure_contracts.contracts import rules as contracts
from procure_contracts.contracts.rules import (
    CONTRACT_MOVES,
    AmendmentDraft,
    Contract,
    ContractStatus,
    Exercise,
    OptionDraft,
    ValueChange,
)
from procure_contracts.domain.money import Money
from procure_contracts.tenders import rules as tenders
from procure_contracts.tenders.rules import (
    LOT_MOVES,
    SETTLED,
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

THRESHOLD = Decimal("0.5")
S = TypeVar("S", Tender, Lot, Contract)
amounts = st.integers(min_value=-300_000, max_value=300_000).filter(bool)


def _same(lot: Lot) -> Lot:
    return lot


def _money(pounds: int) -> Money:
    return Money(amount=Decimal(pounds))


class Lifecycle(RuleBasedStateMachine):
    """One tender with its lots, and one contract, moved by random steps at a clock that only
    goes forward."""

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.ids = itertools.count(1)
        self.tender = tenders.draft(
            TenderDraft(title="Tutoring", submission_deadline=DEADLINE),
            id="t",
            buyer_id="dfe",
            now=self.now,
        )
        self.lots: dict[str, Lot] = {}
        self.contract = a_contract(ContractStatus.PENDING)

    # -- how a step is taken ---------------------------------------------------------------
    def step(
        self,
        before: S,
        change: Callable[[], S],
        moves: Mapping[Any, tuple[Any, ...]],
        to: Any = None,
    ) -> S:
        """``change`` applied, or refused leaving ``before`` as it was (a refusal names the
        status that refused it, the resource's or its tender's, and where that may go). An
        applied move goes to ``to``, which its machine must allow from where it was (``None``:
        a change that keeps the status), and takes one version."""
        try:
            after = change()
        except Conflict as refused:
            said = (refused.current, tuple(refused.allowed))
            assert (
                said
                in (
                    (before.status, tuple(moves[before.status])),
                    (self.tender.status, tuple(TENDER_MOVES[self.tender.status])),
                )
                or said[1] == ()
            ), said
            return before
        except RuleBroken:
            return before
        if to is None:
            assert after.status == before.status, (before.status, after.status)
        else:
            assert after.status == to
            assert to in moves[before.status], (before.status, to)
        assert after.version == before.version + 1
        return after

    def tender_step(self, change: Callable[[], Tender], to: TenderStatus) -> None:
        self.tender = self.step(self.tender, change, TENDER_MOVES, to)

    def lot_step(self, key: str, change: Callable[[], Lot], to: LotStatus) -> None:
        self.lots[key] = self.step(self.lots[key], change, LOT_MOVES, to)

    def contract_step(
        self, change: Callable[[], Contract], to: ContractStatus | None = None
    ) -> None:
        self.contract = self.step(self.contract, change, CONTRACT_MOVES, to)

    # -- where an example starts: each stage reached by the rules themselves ------------------
    @initialize(
        stage=st.sampled_from(["draft", "published", "closed", "complete", "cancelled"]),
        lots=st.integers(min_value=1, max_value=3),
        signed=st.booleans(),
    )
    def start_at(self, stage: str, lots: int, signed: bool) -> None:
        for _ in range(lots):
            self.add_lot()
        if stage == "cancelled":
            self.end(unsuccessful=False)
        if stage in ("published", "closed", "complete"):
            self.publish()
        if stage in ("closed", "complete"):
            self.time_passes(31)
            self.close()
        if stage == "complete":
            key = min(self.lots)
            self.lot_step(
                key, lambda: tenders.lot_awarded(self.lots[key], now=self.now), LotStatus.AWARDED
            )
            for other in sorted(self.lots)[1:]:
                cancel = partial(tenders.cancel_lot, self.tender, self.lots[other], "why")
                self.lot_step(other, partial(cancel, now=self.now), LotStatus.CANCELLED)
            self.complete()
        assert self.tender.status == stage
        if signed:
            self.sign()

    # -- the clock -------------------------------------------------------------------------
    @rule(days=st.integers(min_value=1, max_value=40))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)

    # -- tenders and lots --------------------------------------------------------------------
    @precondition(lambda self: len(self.lots) < 4)
    @rule()
    def add_lot(self) -> None:
        key = f"l{next(self.ids)}"
        draft = LotDraft(title=f"Area {key}", category=Category.TUITION_DELIVERY)
        try:
            self.lots[key] = tenders.add_lot(self.tender, draft, id=key, now=self.now)
        except (Conflict, RuleBroken):
            assert self.tender.status is not TenderStatus.DRAFT

    @rule()
    def publish(self) -> None:
        self.tender_step(
            lambda: tenders.publish(self.tender, list(self.lots.values()), now=self.now),
            TenderStatus.PUBLISHED,
        )

    @rule()
    def close(self) -> None:
        self.tender_step(lambda: tenders.close(self.tender, now=self.now), TenderStatus.CLOSED)

    @rule()
    def complete(self) -> None:
        self.tender_step(
            lambda: tenders.complete(self.tender, list(self.lots.values()), now=self.now),
            TenderStatus.COMPLETE,
        )

    @rule(unsuccessful=st.booleans())
    def end(self, unsuccessful: bool) -> None:
        ending = tenders.unsuccessful if unsuccessful else tenders.cancel
        to = TenderStatus.UNSUCCESSFUL if unsuccessful else TenderStatus.CANCELLED
        lots = list(self.lots.values())
        self.tender_step(lambda: ending(self.tender, lots, "why", now=self.now), to)
        for key, lot in list(self.lots.items()):  # its open lots follow it
            followed = tenders.follow_tender(self.tender, lot, now=self.now)
            if followed is not None:
                self.lots[key] = self.step(
                    lot, partial(_same, followed), LOT_MOVES, followed.status
                )

    @precondition(lambda self: bool(self.lots))
    @rule(data=st.data())
    def move_a_lot(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.lots)))
        lot, tender, now = self.lots[key], self.tender, self.now

        def evaluated(then: Callable[[], Lot], verb: str) -> Callable[[], Lot]:
            """An award is made, or its lot opened again, while the tender is evaluated."""

            def move() -> Lot:
                tenders.require_lot(tender, lot, verb)
                return then()

            return move

        moves: dict[str, tuple[Callable[[], Lot], LotStatus]] = {
            "award": (
                evaluated(lambda: tenders.lot_awarded(lot, now=now), "awarded"),
                LotStatus.AWARDED,
            ),
            "reopen": (
                evaluated(lambda: tenders.lot_reopened(lot, now=now), "opened again"),
                LotStatus.ACTIVE,
            ),
            "cancel": (
                lambda: tenders.cancel_lot(tender, lot, "why", now=now),
                LotStatus.CANCELLED,
            ),
            "unsuccessful": (
                lambda: tenders.lot_unsuccessful(tender, lot, "why", now=now),
                LotStatus.UNSUCCESSFUL,
            ),
        }
        self.lot_step(key, *moves[data.draw(st.sampled_from(sorted(moves)))])

    # -- contracts -------------------------------------------------------------------------
    @rule()
    def sign(self) -> None:
        self.contract_step(
            lambda: contracts.sign(self.contract, [], now=self.now), ContractStatus.ACTIVE
        )

    @rule(pounds=amounts)
    def amend_the_value(self, pounds: int) -> None:
        draft = AmendmentDraft(change=ValueChange(change=_money(pounds)), rationale="why")
        self.contract_step(
            lambda: contracts.amend(
                self.contract,
                draft,
                id=f"am{next(self.ids)}",
                by="olivia",
                names={},
                threshold=THRESHOLD,
                now=self.now,
            )
        )

    @rule(pounds=st.integers(min_value=1, max_value=500_000))
    def give_an_option(self, pounds: int) -> None:
        draft = OptionDraft(description="Another year", value=_money(pounds))
        self.contract_step(
            lambda: contracts.add_option(
                self.contract, draft, id=f"o{next(self.ids)}", now=self.now
            )
        )

    @precondition(lambda self: bool(self.contract.options))
    @rule(data=st.data())
    def exercise_an_option(self, data: st.DataObject) -> None:
        self.exercise(data.draw(st.sampled_from(self.contract.options)).id)

    def exercise(self, option_id: str) -> None:
        self.contract_step(
            lambda: contracts.exercise(
                self.contract,
                option_id,
                Exercise(on=self.now.date()),
                threshold=THRESHOLD,
                now=self.now,
            )
        )

    @rule(how=st.sampled_from(["complete", "terminate", "cancel"]))
    def close_the_contract(self, how: str) -> None:
        on = max(self.now.date(), date(2026, 4, 1))
        closing: dict[str, tuple[Callable[[], Contract], ContractStatus]] = {
            "complete": (
                lambda: contracts.complete(self.contract, on, now=self.now),
                ContractStatus.COMPLETED,
            ),
            "terminate": (
                lambda: contracts.terminate(self.contract, on, "why", now=self.now),
                ContractStatus.TERMINATED,
            ),
            "cancel": (
                lambda: contracts.cancel(self.contract, "why", now=self.now),
                ContractStatus.CANCELLED,
            ),
        }
        self.contract_step(*closing[how])

    # -- what always holds -------------------------------------------------------------------
    @invariant()
    def a_complete_tender_has_every_lot_settled_and_one_awarded(self) -> None:
        if self.tender.status is TenderStatus.COMPLETE:
            assert all(lot.status in SETTLED for lot in self.lots.values())
            assert any(lot.status is LotStatus.AWARDED for lot in self.lots.values())

    @invariant()
    def the_current_value_is_the_original_plus_amendments_plus_exercised_options(self) -> None:
        c = self.contract
        assert c.value is not None
        assert c.current_value is not None
        exercised = sum((o.value.amount for o in c.options if o.exercised and o.value), Decimal(0))
        assert c.current_value.amount == c.value.amount + c.amendments_value + exercised
        amended = sum(
            (a.change.change.amount for a in c.amendments if isinstance(a.change, ValueChange)),
            Decimal(0),
        )
        assert c.amendments_value == amended


def test_random_sequences_keep_the_state_machines_versions_and_values() -> None:
    Lifecycle.TestCase.settings = settings(
        max_examples=150,
        stateful_step_count=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    Lifecycle.TestCase().runTest()


def test_the_machine_reaches_the_ends_of_every_state_machine() -> None:
    """The rules can reach every final status (the machine above is not stuck short of them)."""
    machine = Lifecycle()
    machine.add_lot()
    machine.publish()
    machine.time_passes(31)
    machine.close()
    (key,) = machine.lots
    machine.lots[key] = tenders.lot_awarded(machine.lots[key], now=machine.now)
    machine.complete()
    assert machine.tender.status is TenderStatus.COMPLETE
    machine.sign()
    machine.amend_the_value(-20_000)
    machine.give_an_option(100_000)
    machine.exercise(machine.contract.options[0].id)
    machine.close_the_contract("terminate")
    assert machine.contract.status is ContractStatus.TERMINATED
    assert machine.contract.current_value == _money(1_080_000)
    assert machine.contract.version == 6
