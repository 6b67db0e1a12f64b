"""A property-based smoke test of the contracts HTTP API (the rules' own machine, without the
wiring, is tests/unit/contracts/test_state_machines.py): hypothesis drives random sequences of
operations on tenders, lots, awards and contracts, and after every step checks the invariants:
no transition outside the state machines, a refused operation changes nothing, a contract's
current value is its original value plus its amendments plus the options exercised, every lot
of a complete tender is settled, and a resource's history replays to what it reads now.

Hypothesis runs synchronously and the apps asynchronously, on the test's event loop (with the
real PostgreSQL and NATS of the fixtures). So the state machine runs in a worker thread and
hands every request to the test's loop (``run_coroutine_threadsafe``), which serves it while
the test awaits the thread. Each example acts for a buyer of its own, with the clock set back
to the start: examples share the database but never see each other's resources."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from procure_providers.api.rpc import EligibilityResponder
from procure_shared.http import Role
from tests.contracts.conftest import NOW, Api
from tests.providers.conftest import Api as ProvidersApi

T = TypeVar("T")
Doc = dict[str, Any]

# The state machines as this test knows them: where each status may go next.
MOVES: dict[str, dict[str, set[str]]] = {
    "tender": {
        "draft": {"published", "cancelled"},
        "published": {"closed", "cancelled", "unsuccessful"},
        "closed": {"complete", "cancelled", "unsuccessful"},
        "complete": set(),
        "cancelled": set(),
        "unsuccessful": set(),
    },
    "lot": {
        "active": {"awarded", "cancelled", "unsuccessful"},
        "awarded": {"active"},
        "cancelled": set(),
        "unsuccessful": set(),
    },
    # pending turns active when the standstill ends (the clock moves it: no new version)
    "award": {"pending": {"active", "cancelled"}, "active": {"cancelled"}, "cancelled": set()},
    "contract": {
        "pending": {"active", "cancelled"},
        "active": {"completed", "terminated"},
        "completed": set(),
        "terminated": set(),
        "cancelled": set(),
    },
    "option": {"open": {"exercised"}, "exercised": set()},
}
# The statuses a resource is made in.
BORN = {
    "tender": {"draft"},
    "lot": {"active"},
    "award": {"pending", "active"},
    "contract": {"pending"},
}
SETTLED = {"awarded", "cancelled", "unsuccessful"}
CATEGORIES = ("academic_mentoring", "attendance_mentoring")


@dataclass(frozen=True)
class Supplier:
    name: str
    accredited: tuple[str, ...]
    excluded: bool = False

    def eligible(self, category: str) -> bool:
        return category in self.accredited and not self.excluded


# The providers every example may award (by index), registered once before the examples.
POOL = (
    Supplier("Randstad Solutions Limited", CATEGORIES),
    Supplier("Tutor Trust", CATEGORIES),
    Supplier("Action Tutoring", CATEGORIES),
    Supplier("The Access Project", ("academic_mentoring",)),
    Supplier("Barnardo's", ("attendance_mentoring",)),
    Supplier("Excluded Ltd", CATEGORIES, excluded=True),
    Supplier("New Tutors Ltd", ()),
)

pence = st.integers(1, 10**10)
money = pence.map(lambda p: {"amount": f"{Decimal(p) / 100:.2f}", "currency": "GBP"})
maybe_money = st.one_of(money, money, money, st.none())  # mostly known
currency = st.sampled_from(["GBP", "GBP", "GBP", "EUR"])  # another currency: refused
# A blank reason is refused: say why.
reason = st.sampled_from(["Budget withdrawn", "Provider withdrew", "Error", "Late", " "])
day = st.dates(date(2022, 6, 1), date(2026, 12, 31))
chosen = st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=3, unique=True)
providers = st.lists(st.integers(0, len(POOL) - 1), max_size=2, unique=True)
pick = st.integers(0, 63)  # which resource, modulo their number
aim = st.sampled_from([True, True, True, False])  # mostly one the operation suits


@dataclass(frozen=True)
class World:
    """What every example shares: the test's loop, the contracts API and the providers."""

    loop: asyncio.AbstractEventLoop
    api: Api
    provider_ids: tuple[str, ...]


def kind_of(path: str) -> str:
    if "/lots/" in path:
        return "lot"
    return {"tenders": "tender", "awards": "award", "contracts": "contract"}[path.split("/")[2]]


def stored(doc: Any) -> Any:
    """An award as stored: the status ``active`` is only how a pending award reads once its
    standstill has ended."""
    if isinstance(doc, dict) and doc.get("status") == "active" and "standstillEnds" in doc:
        return doc | {"status": "pending"}
    return doc


class ContractsApi(RuleBasedStateMachine):
    """The operations, each on a resource it picks: the ``pick``-th (modulo their number) of
    those it suits when ``aim`` (mostly), of all of its kind otherwise; an award with ``aim``
    goes to providers eligible for the lot. A rule runs only when some resource suits it, so
    that sequences go deep (to signed contracts, options and amendments), not only wide. The
    model is what the API listed after the last step (``docs``) and what was made, in order."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.clock = world.api.clock
        self.clock.set(NOW)
        self.buyer = f"buyer-{uuid.uuid4().hex[:12]}"
        self.docs: dict[str, Doc] = {}  # every resource of the buyer by path, after the last step
        self.made: dict[str, list[str]] = {k: [] for k in ("tender", "lot", "award", "contract")}
        self.made["option"] = []
        self.unchanged = False  # the last step was refused (or only time passed): no change

    # -- talking to the API on the test's loop ------------------------------------------------

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.world.loop).result(timeout=60)

    def headers(self, role: Role = Role.COMMERCIAL) -> dict[str, str]:
        return self.world.api.headers(role, buyer=self.buyer)

    async def read(self, path: str, **params: Any) -> httpx.Response:
        answer = await self.world.api.http.get(
            path, headers=self.headers(Role.VIEWER), params=params
        )
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer

    def create(self, path: str, body: Doc) -> httpx.Response:
        headers = self.headers() | {"Idempotency-Key": str(uuid.uuid4())}
        return self.run(self.world.api.http.post(path, json=body, headers=headers))

    def change(self, method: str, path: str, body: Doc | None, resource: str) -> httpx.Response:
        """A PATCH or a transition with the If-Match of ``resource`` as it is now."""

        async def send() -> httpx.Response:
            etag = (await self.read(resource)).headers["ETag"]
            headers = self.headers() | {"If-Match": etag}
            return await self.world.api.http.request(method, path, json=body, headers=headers)

        return self.run(send())

    def now(self) -> datetime:
        return self.clock.now()

    def wait_until(self, instant: datetime) -> None:
        if instant > self.now():
            self.clock.advance(instant - self.now() + timedelta(minutes=1))

    # -- the model: what each resource is now, and which suit an operation -------------------

    def status(self, path: str) -> str:
        if "/options/" in path:
            contract, option_id = path.split("/options/")
            (option,) = (o for o in self.docs[contract]["options"] if o["id"] == option_id)
            return "exercised" if option["exercised"] else "open"
        return str(self.docs[path]["status"])

    def tender_of(self, lot: str) -> str:
        return lot.split("/lots/")[0]

    def suited(self, kind: str, suits: Callable[[str], bool]) -> list[str]:
        return [p for p in self.made[kind] if suits(p)]

    def target(self, kind: str, pick: int, aim: bool, suits: Callable[[str], bool]) -> str:
        among = (self.suited(kind, suits) if aim else []) or self.made[kind]
        return among[pick % len(among)]

    def going(self, tender: str) -> bool:
        """A tender that is underway, or a draft that can be published."""
        deadline = self.docs[tender]["submissionDeadline"]
        if self.status(tender) == "draft":
            return deadline is not None and datetime.fromisoformat(deadline) > self.now()
        return self.underway(tender)

    def lots_of(self, tender: str) -> list[str]:
        return [lot for lot in self.made["lot"] if self.tender_of(lot) == tender]

    def lacks_lots(self, tender: str) -> bool:
        return (
            self.status(tender) == "draft" and self.going(tender) and len(self.lots_of(tender)) < 3
        )

    def publishable(self, tender: str) -> bool:
        return self.status(tender) == "draft" and self.going(tender) and bool(self.lots_of(tender))

    def evaluated(self, tender: str) -> bool:
        return self.status(tender) == "closed"

    def settled(self, tender: str) -> bool:
        lots = self.lots_of(tender)
        return self.evaluated(tender) and all(self.status(lot) in SETTLED for lot in lots)

    def underway(self, tender: str) -> bool:
        return self.status(tender) in ("published", "closed")

    def live_tender(self, tender: str) -> bool:
        return self.status(tender) in ("draft", "published", "closed")

    def open_lot(self, lot: str) -> bool:
        return self.status(lot) == "active" and self.live_tender(self.tender_of(lot))

    def awardable(self, lot: str) -> bool:
        return self.status(lot) in ("active", "awarded") and self.evaluated(self.tender_of(lot))

    def live_award(self, award: str) -> bool:
        return self.status(award) != "cancelled"

    def pending(self, contract: str) -> bool:
        return self.status(contract) == "pending"

    def signed(self, contract: str) -> bool:
        return self.status(contract) == "active"

    def live_contract(self, contract: str) -> bool:
        return self.status(contract) in ("pending", "active")

    def open_option(self, option: str) -> bool:
        return self.status(option) == "open" and self.signed(option.split("/options/")[0])

    # -- what every answer must be ----------------------------------------------------------

    def done(
        self, answer: httpx.Response, *about: str, subject: str | None = None, to: str | None = None
    ) -> bool:
        """Whether the operation was done: 2xx, or a problem (409, 412, 422) after which nothing
        may have changed. A 409 for a transition names the current and allowed states of one of
        the state machines ``about``; ``subject``'s status, when given. ``to``: the status a
        resource moved by the operation has."""
        assert answer.status_code < 500, (answer.request.url, answer.status_code, answer.text)
        if answer.is_success:
            self.unchanged = False
            if to is not None:
                assert answer.json()["status"] == to, answer.text
            return True
        assert answer.status_code in (409, 412, 422), (answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        if answer.status_code == 409 and problem.get("title") != "Already awarded":
            current, allowed = problem["currentState"], set(problem["allowedStates"])
            assert any(current in MOVES[k] and allowed <= MOVES[k][current] for k in about), (
                about,
                problem,
            )
            if subject is not None:
                assert current == self.status(subject), (subject, problem)
        self.unchanged = True
        return False

    # -- tenders and lots -------------------------------------------------------------------

    @initialize(
        categories=st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3),
        value=money,
        standstill=st.integers(0, 10),
    )
    def a_tender_in_evaluation_and_a_signed_contract(
        self, categories: list[str], value: Doc, standstill: int
    ) -> None:
        """Every example starts with a tender closed for evaluation, its first lot awarded and
        under a signed contract: operations of the API (the invariants checked after each), so
        that sequences reach options, amendments and the ends of contracts soon."""
        self.draft_tender(deadline=7, value=None)
        self.the_invariants_hold()
        for category in categories:
            self.add_lot(pick=0, aim=True, category=category, value=None)
            self.the_invariants_hold()
        self.publish(pick=0, aim=True)
        self.the_invariants_hold()
        self.close(pick=0, aim=True, wait=True)
        self.the_invariants_hold()
        self.award(pick=0, aim=True, chosen=[0], value=value, standstill=standstill)
        self.the_invariants_hold()
        self.create_contract(picks=[0], aim=True, value=None, period=True)
        self.the_invariants_hold()
        # Its value may be more than £5m: no KPIs are defined here (s.52), so say why.
        self.exempt_from_kpis(pick=0, aim=True, why="Performance is assessed by milestones")
        self.the_invariants_hold()
        self.sign(pick=0, aim=True, wait=True)
        self.the_invariants_hold()
        assert self.status(self.made["contract"][0]) == "active"

    @precondition(lambda self: len(self.suited("tender", self.going)) < 2)
    @rule(deadline=st.sampled_from([3, 5, 7, 7, 10, 14, None]), value=maybe_money)
    def draft_tender(self, deadline: int | None, value: Doc | None) -> None:
        body: Doc = {"title": "National Tutoring Programme delivery support", "value": value}
        if deadline is not None:
            body["submissionDeadline"] = (self.now() + timedelta(days=deadline)).isoformat()
        answer = self.create("/v1/tenders", body)
        assert self.done(answer), answer.text
        self.made["tender"].append(f"/v1/tenders/{answer.json()['id']}")

    @precondition(lambda self: self.suited("tender", self.lacks_lots))
    @rule(pick=pick, aim=aim, category=st.sampled_from(CATEGORIES), value=maybe_money)
    def add_lot(self, pick: int, aim: bool, category: str, value: Doc | None) -> None:
        tender = self.target("tender", pick, aim, self.lacks_lots)
        body = {"title": "Recruit and deploy academic mentors", "category": category}
        answer = self.create(f"{tender}/lots", body | {"value": value})
        if self.done(answer, "tender"):
            assert self.status(tender) == "draft"
            self.made["lot"].append(f"{tender}/lots/{answer.json()['id']}")

    @precondition(lambda self: self.suited("tender", self.publishable))
    @rule(pick=pick, aim=aim)
    def publish(self, pick: int, aim: bool) -> None:
        tender = self.target("tender", pick, aim, self.publishable)
        answer = self.change("POST", f"{tender}/publish", None, tender)
        self.done(answer, "tender", subject=tender, to="published")

    @precondition(lambda self: self.suited("tender", lambda t: self.status(t) == "published"))
    @rule(pick=pick, aim=aim, wait=st.booleans())
    def close(self, pick: int, aim: bool, wait: bool) -> None:
        tender = self.target("tender", pick, aim, lambda t: self.status(t) == "published")
        deadline = self.docs[tender]["submissionDeadline"]
        if wait and deadline is not None:
            self.wait_until(datetime.fromisoformat(deadline))
        answer = self.change("POST", f"{tender}/close", None, tender)
        self.done(answer, "tender", subject=tender, to="closed")

    @precondition(lambda self: self.suited("tender", self.settled))
    @rule(pick=pick, aim=aim)
    def complete(self, pick: int, aim: bool) -> None:
        tender = self.target("tender", pick, aim, self.settled)
        answer = self.change("POST", f"{tender}/complete", None, tender)
        self.done(answer, "tender", subject=tender, to="complete")

    @precondition(lambda self: self.suited("tender", self.underway))
    @rule(pick=pick, aim=aim, move=st.sampled_from(["cancel", "unsuccessful"]), why=reason)
    def end_tender(self, pick: int, aim: bool, move: str, why: str) -> None:
        tender = self.target("tender", pick, aim, self.underway)
        answer = self.change("POST", f"{tender}/{move}", {"reason": why}, tender)
        to = "cancelled" if move == "cancel" else "unsuccessful"
        self.done(answer, "tender", subject=tender, to=to)

    @precondition(lambda self: self.suited("lot", self.open_lot))
    @rule(pick=pick, aim=aim, move=st.sampled_from(["cancel", "unsuccessful"]), why=reason)
    def settle_lot(self, pick: int, aim: bool, move: str, why: str) -> None:
        lot = self.target("lot", pick, aim, self.open_lot)
        answer = self.change("POST", f"{lot}/{move}", {"reason": why}, lot)
        self.done(answer, "tender", "lot", to="cancelled" if move == "cancel" else "unsuccessful")

    # -- awards -----------------------------------------------------------------------------

    @precondition(lambda self: self.suited("lot", self.awardable))
    @rule(pick=pick, aim=aim, chosen=chosen, value=maybe_money, standstill=st.integers(-1, 15))
    def award(
        self, pick: int, aim: bool, chosen: list[int], value: Doc | None, standstill: int
    ) -> None:
        lot = self.target("lot", pick, aim, self.awardable)
        category = self.docs[lot]["category"]
        if aim:  # among the providers eligible for the lot
            fit = [i for i, s in enumerate(POOL) if s.eligible(category)]
            chosen = list(dict.fromkeys(fit[i % len(fit)] for i in chosen))
        ids = [self.world.provider_ids[i] for i in chosen]
        body = {
            "providers": [{"providerId": p, "value": value} for p in ids],
            "date": self.now().isoformat(),
            "standstillEnds": (self.now() + timedelta(days=standstill)).isoformat(),
        }
        answer = self.create(f"{lot}/awards", body)
        made = self.done(answer, "tender", "lot")
        # Made exactly when the lot can take them and every provider is eligible.
        holders = {
            self.docs[a]["providerId"]
            for a in self.made["award"]
            if self.docs[a]["lotId"] == self.docs[lot]["id"] and self.live_award(a)
        }
        expected = (
            self.status(self.tender_of(lot)) == "closed"
            and self.status(lot) in ("active", "awarded")
            and standstill >= 0
            and not holders & set(ids)
            and all(POOL[i].eligible(category) for i in chosen)
        )
        assert made == expected, (expected, answer.text)
        if made:
            self.made["award"] += [f"/v1/awards/{a['id']}" for a in answer.json()["items"]]

    @precondition(lambda self: self.suited("award", self.live_award))
    @rule(pick=pick, aim=aim, why=reason)
    def cancel_award(self, pick: int, aim: bool, why: str) -> None:
        award = self.target("award", pick, aim, self.live_award)
        answer = self.change("POST", f"{award}/cancel", {"reason": why}, award)
        self.done(answer, "award", "tender", to="cancelled")  # its lot may open again

    @precondition(
        lambda self: (
            self.made["award"] or self.suited("tender", lambda t: self.status(t) == "published")
        )
    )
    @rule(days=st.integers(1, 10))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))
        self.unchanged = True  # an award's standstill may end, with no new version

    # -- contracts --------------------------------------------------------------------------

    @precondition(lambda self: self.suited("award", self.live_award))
    @rule(
        picks=st.lists(pick, min_size=1, max_size=3),
        aim=aim,
        value=maybe_money,
        period=st.booleans(),
    )
    def create_contract(self, picks: list[int], aim: bool, value: Doc | None, period: bool) -> None:
        among = self.suited("award", self.live_award) if aim else self.made["award"]
        awards = list(dict.fromkeys(among[p % len(among)] for p in picks))
        body: Doc = {"awardIds": [self.docs[a]["id"] for a in awards], "title": "Mentors"}
        if value is not None:
            body["value"] = value
        if period:
            body |= {"startsOn": "2022-09-01", "endsOn": "2024-08-31"}
        answer = self.create("/v1/contracts", body)
        if self.done(answer, "contract", "award"):
            assert all(self.live_award(a) for a in awards)
            self.made["contract"].append(f"/v1/contracts/{answer.json()['id']}")

    @precondition(lambda self: self.suited("contract", self.pending))
    @rule(pick=pick, aim=aim, value=maybe_money)
    def change_contract_value(self, pick: int, aim: bool, value: Doc | None) -> None:
        contract = self.target("contract", pick, aim, self.pending)
        answer = self.change("PATCH", contract, {"value": value}, contract)
        self.done(answer, "contract", subject=contract)

    @precondition(lambda self: self.suited("contract", self.pending))
    @rule(pick=pick, aim=aim, wait=aim)
    def sign(self, pick: int, aim: bool, wait: bool) -> None:
        contract = self.target("contract", pick, aim, self.pending)
        awards = [f"/v1/awards/{a}" for a in self.docs[contract]["awardIds"]]
        ends = max(datetime.fromisoformat(self.docs[a]["standstillEnds"]) for a in awards)
        if wait:
            self.wait_until(ends)
        answer = self.change("POST", f"{contract}/sign", None, contract)
        value, exempt = self.docs[contract]["currentValue"], self.docs[contract]["kpiExemption"]
        # Procurement Act 2023 s.52 (no KPIs are defined here): more than £5m needs a reason.
        needs_kpis = (
            value is not None
            and value["currency"] == "GBP"
            and Decimal(value["amount"]) > 5_000_000
            and exempt is None
        )
        if self.done(answer, "contract", subject=contract, to="active"):
            assert ends <= self.now(), "signed before the standstill ended"
            assert all(self.live_award(a) for a in awards), "signed on a cancelled award"
            assert not needs_kpis, "signed above £5m without KPIs or an exemption"
        elif answer.status_code == 422:
            assert needs_kpis, answer.text

    @precondition(lambda self: self.suited("contract", self.live_contract))
    @rule(pick=pick, aim=aim, why=st.sampled_from(["Performance is assessed by milestones", " "]))
    def exempt_from_kpis(self, pick: int, aim: bool, why: str | None) -> None:
        contract = self.target("contract", pick, aim, self.pending)
        answer = self.change("PATCH", contract, {"kpiExemption": why}, contract)
        was = self.docs[contract]["kpiExemption"]
        if self.done(answer, "contract", subject=contract):
            # Recorded before signing only (the same reason again changes nothing).
            assert self.status(contract) == "pending" or was == why, "recorded after signing"
            assert why is None or why.strip(), "a blank reason recorded"

    @precondition(lambda self: self.suited("contract", self.signed))
    @rule(
        pick=pick,
        aim=aim,
        move=st.sampled_from(["complete", "terminate", "cancel"]),
        on=day,
        why=reason,
    )
    def close_contract(self, pick: int, aim: bool, move: str, on: date, why: str) -> None:
        contract = self.target("contract", pick, aim, self.signed)
        body = {"on": on.isoformat(), "reason": why}
        answer = self.change("POST", f"{contract}/{move}", body, contract)
        to = {"complete": "completed", "terminate": "terminated", "cancel": "cancelled"}[move]
        self.done(answer, "contract", subject=contract, to=to)

    @precondition(lambda self: self.suited("contract", self.live_contract))
    @rule(pick=pick, aim=aim, value=st.one_of(pence, pence, st.none()), currency=currency)
    def add_option(self, pick: int, aim: bool, value: int | None, currency: str) -> None:
        contract = self.target("contract", pick, aim, self.live_contract)
        body: Doc = {"description": "Scale up to multiple areas nationally"}
        if value is not None:
            body["value"] = {"amount": f"{Decimal(value) / 100:.2f}", "currency": currency}
        answer = self.create(f"{contract}/options", body)
        if self.done(answer, "contract"):
            self.made["option"].append(f"{contract}/options/{answer.json()['options'][-1]['id']}")

    @precondition(lambda self: self.suited("option", self.open_option))
    @rule(pick=pick, aim=aim, on=day)
    def exercise_option(self, pick: int, aim: bool, on: date) -> None:
        option = self.target("option", pick, aim, self.open_option)
        contract = option.split("/options/")[0]
        answer = self.change("POST", f"{option}/exercise", {"on": on.isoformat()}, contract)
        if self.done(answer, "contract", "option"):
            assert self.status(contract) == "active"

    def amend(self, pick: int, aim: bool, change: Doc) -> None:
        contract = self.target("contract", pick, aim, self.live_contract)
        answer = self.create(f"{contract}/amendments", {"change": change, "rationale": "Why"})
        if self.done(answer, "contract"):
            assert answer.json()["amendments"][-1]["change"]["kind"] == change["kind"]

    @precondition(lambda self: self.suited("contract", self.live_contract))
    @rule(pick=pick, aim=aim, amount=st.integers(-(10**9), 10**9), currency=currency)
    def amend_value(self, pick: int, aim: bool, amount: int, currency: str) -> None:
        change = {"amount": f"{Decimal(amount) / 100:.2f}", "currency": currency}
        self.amend(pick, aim, {"kind": "value", "change": change})

    @precondition(lambda self: self.suited("contract", self.live_contract))
    @rule(pick=pick, aim=aim, ends_on=day)
    def amend_end_date(self, pick: int, aim: bool, ends_on: date) -> None:
        self.amend(pick, aim, {"kind": "end_date", "endsOn": ends_on.isoformat()})

    @precondition(lambda self: self.suited("contract", self.live_contract))
    @rule(pick=pick, aim=aim, scope=st.sampled_from(["Four areas", "National", " "]))
    def amend_scope(self, pick: int, aim: bool, scope: str) -> None:
        self.amend(pick, aim, {"kind": "scope", "scope": scope})

    @precondition(lambda self: self.suited("contract", self.live_contract))
    @rule(pick=pick, aim=aim, add=providers, remove=providers)
    def amend_suppliers(self, pick: int, aim: bool, add: list[int], remove: list[int]) -> None:
        ids = self.world.provider_ids
        change = {
            "kind": "suppliers",
            "add": [ids[i] for i in add],
            "remove": [ids[i] for i in remove],
        }
        self.amend(pick, aim, change)

    # -- the invariants, after every step ---------------------------------------------------

    async def snapshot(self) -> dict[str, Doc]:
        """Every resource of the buyer, by path, as its list reads."""

        async def items(path: str) -> list[Doc]:
            page = (await self.read(path, limit=200)).json()
            assert page["nextCursor"] is None
            return list(page["items"])

        tenders, awards, contracts = await asyncio.gather(
            items("/v1/tenders"), items("/v1/awards"), items("/v1/contracts")
        )
        lots = await asyncio.gather(*(items(f"/v1/tenders/{t['id']}/lots") for t in tenders))
        found = {f"/v1/tenders/{t['id']}": t for t in tenders}
        found |= {
            f"/v1/tenders/{lot['tenderId']}/lots/{lot['id']}": lot for ls in lots for lot in ls
        }
        found |= {f"/v1/awards/{a['id']}": a for a in awards}
        found |= {f"/v1/contracts/{c['id']}": c for c in contracts}
        return found

    async def check_history(self, path: str, listed: Doc) -> None:
        """What GET answers is what the list shows and what the history replays to: each entry
        starts from the state the one before left."""
        now, history = await asyncio.gather(self.read(path), self.read(f"{path}/history"))
        current, entries = now.json(), history.json()
        assert current == listed, path
        assert entries, path
        assert entries[0]["before"] is None, (path, entries[0])
        for previous, entry in itertools.pairwise(entries):
            assert stored(entry["before"]) == stored(previous["after"]), (path, entry["action"])
        assert stored(entries[-1]["after"]) == stored(current), (path, entries[-1]["action"])

    @invariant()
    def the_invariants_hold(self) -> None:
        before, now = self.docs, self.run(self.snapshot())
        self.docs = now
        made = {p for kind, paths in self.made.items() if kind != "option" for p in paths}
        assert set(now) == made, "the API lists other resources than those made"
        if self.unchanged:
            versions = {p: d["version"] for p, d in now.items()}
            assert versions == {p: d["version"] for p, d in before.items()}, "nothing may change"
        for path, doc in now.items():
            kind, was = kind_of(path), before.get(path)
            if was is None:
                assert doc["status"] in BORN[kind], (path, doc)
                assert doc["version"] == 1, (path, doc)
            elif doc["status"] != was["status"]:
                assert doc["status"] in MOVES[kind][was["status"]], (path, was["status"], doc)
                if (was["status"], doc["status"]) != ("pending", "active") or kind != "award":
                    assert doc["version"] > was["version"], (path, doc)
            else:
                assert doc["version"] >= was["version"], (path, doc)
        changed = [p for p, d in now.items() if p not in before or d != before[p]]
        self.run(self.gather(*(self.check_history(p, now[p]) for p in changed)))
        for path, doc in now.items():
            if kind_of(path) == "contract":
                self.check_value(doc)
            elif kind_of(path) == "lot":
                self.check_lot(path, doc)
            elif kind_of(path) == "tender" and doc["status"] == "complete":
                lots = [d for p, d in now.items() if p.startswith(f"{path}/lots/")]
                assert {lot["status"] for lot in lots} <= SETTLED, (path, lots)
                assert any(lot["status"] == "awarded" for lot in lots), (path, lots)

    @staticmethod
    async def gather(*checks: Coroutine[Any, Any, None]) -> None:
        await asyncio.gather(*checks)

    def check_value(self, contract: Doc) -> None:
        """currentValue = value + the amendments + the options exercised (when value is known)."""
        amended = sum(
            (
                Decimal(a["change"]["change"]["amount"])
                for a in contract["amendments"]
                if a["change"]["kind"] == "value"
            ),
            Decimal(0),
        )
        assert Decimal(contract["amendmentsValue"]) == amended, contract
        if contract["value"] is None:
            assert contract["currentValue"] is None, contract
            return
        exercised = sum(
            (
                Decimal(o["value"]["amount"])
                for o in contract["options"]
                if o["exercised"] and o["value"] is not None
            ),
            Decimal(0),
        )
        expected = Decimal(contract["value"]["amount"]) + amended + exercised
        assert Decimal(contract["currentValue"]["amount"]) == expected, contract

    def check_lot(self, path: str, lot: Doc) -> None:
        """A lot is awarded exactly while it has an award not cancelled."""
        awards = [self.docs[a] for a in self.made["award"]]
        live = [a for a in awards if a["lotId"] == lot["id"] and a["status"] != "cancelled"]
        assert (lot["status"] == "awarded") == bool(live), (path, lot["status"], live)


# A smoke run: the state machines' rules are explored at length by the pure machine of
# tests/unit/contracts/test_state_machines.py; this one keeps the wiring (HTTP, PostgreSQL,
# NATS, eligibility, history) honest over a few sequences.
SETTINGS = settings(
    max_examples=5,
    stateful_step_count=40,
    deadline=None,
    database=None,
    report_multiple_bugs=False,  # shrink the first failure only: each step is a few requests
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


async def _register(papi: ProvidersApi) -> tuple[str, ...]:
    ids = []
    for supplier in POOL:
        provider = await papi.register(legalName=supplier.name)
        for category in supplier.accredited:
            await papi.accredit(provider["id"], category=category)
        if supplier.excluded:
            await papi.exclude(provider["id"])
        ids.append(str(provider["id"]))
    return tuple(ids)


async def test_random_sequences_of_operations_keep_the_state_machines_values_and_history(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    world = World(asyncio.get_running_loop(), capi, await _register(papi))

    def machine() -> ContractsApi:
        return ContractsApi(world)

    # Any callable that makes a machine will do (hypothesis's annotation names only a class).
    factory = cast("type[RuleBasedStateMachine]", machine)
    await asyncio.to_thread(run_state_machine_as_test, factory, settings=SETTINGS)
