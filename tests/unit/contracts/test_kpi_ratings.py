"""The rating rules, without fixtures: every threshold's edge, both directions, range targets,
the explanations, the combination of a period's observations, and the s.52 rule."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import msgspec
import pytest

from procure_contracts.contracts.rules import Contract, ContractStatus
from procure_contracts.domain.money import Money
from procure_contracts.kpis.observations import assessed, latest_period, rated
from procure_contracts.kpis.ratings import (
    Combine,
    Direction,
    Exact,
    Range,
    Thresholds,
    check_thresholds,
    default_thresholds,
    rate,
)
from procure_contracts.kpis.rules import (
    Dimension,
    Kpi,
    KpiDraft,
    Observation,
    check_section_52,
    define,
)
from procure_shared.errors import RuleBroken

HIGHER, LOWER = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER
NOW = datetime(2022, 8, 31, 17, tzinfo=UTC)


def _rating(value: str, target: Exact | Range, direction: Direction = HIGHER) -> str:
    return rate(Decimal(value), target, direction, default_thresholds(direction), None).rating


@pytest.mark.parametrize(
    ("value", "rating"),
    [
        ("1001", "good"),
        ("1000", "good"),  # at target
        ("999.99", "approaching_target"),
        ("900", "approaching_target"),  # at 90%
        ("899.99", "requires_improvement"),
        ("700", "requires_improvement"),  # at 70%
        ("699.99", "inadequate"),
        ("0", "inadequate"),
    ],
)
def test_higher_is_better_is_rated_at_the_edges_of_every_threshold(value: str, rating: str) -> None:
    assert _rating(value, Exact(value=Decimal(1000))) == rating


@pytest.mark.parametrize(
    ("value", "rating"),
    [
        ("0", "good"),
        ("1000", "good"),  # at target
        ("1000.01", "approaching_target"),
        ("1100", "approaching_target"),  # at 110%
        ("1100.01", "requires_improvement"),
        ("1300", "requires_improvement"),  # at 130%
        ("1300.01", "inadequate"),
    ],
)
def test_lower_is_better_mirrors_the_thresholds(value: str, rating: str) -> None:
    assert _rating(value, Exact(value=Decimal(1000)), LOWER) == rating


@pytest.mark.parametrize(
    ("value", "direction", "rating"),
    [
        ("500", HIGHER, "good"),  # the bounds are in the range
        ("1000", HIGHER, "good"),
        ("1665", HIGHER, "good"),  # beyond it on the better side
        ("450", HIGHER, "approaching_target"),  # 90% of the nearer bound (500)
        ("449.99", HIGHER, "requires_improvement"),
        ("350", HIGHER, "requires_improvement"),
        ("349.99", HIGHER, "inadequate"),
        ("10", LOWER, "good"),  # below a lower-is-better range
        ("1100", LOWER, "approaching_target"),  # 110% of the nearer bound (1,000)
        ("1100.01", LOWER, "requires_improvement"),
        ("1300", LOWER, "requires_improvement"),
        ("1300.01", LOWER, "inadequate"),
    ],
)
def test_a_range_is_good_inside_and_measured_against_the_nearer_bound_outside(
    value: str, direction: Direction, rating: str
) -> None:
    assert _rating(value, Range(min=Decimal(500), max=Decimal(1000)), direction) == rating


def test_the_explanation_says_what_was_compared_with_what() -> None:
    tutoring = rate(
        Decimal(165230), Exact(value=Decimal(524000)), HIGHER, default_thresholds(HIGHER), "pupils"
    )
    assert tutoring.rating == "inadequate"
    assert tutoring.explanation == (
        "165,230 pupils against a target of 524,000 (31.5% of target); "
        "below 70% of target is Inadequate"
    )
    mentors = rate(
        Decimal(1665),
        Range(min=Decimal(500), max=Decimal(1000)),
        HIGHER,
        default_thresholds(HIGHER),
        "pupils",
    )
    assert mentors.explanation == (
        "1,665 pupils against a target of 500 to 1,000: above the range is Good (higher is better)"
    )
    short = rate(
        Decimal(400),
        Range(min=Decimal(500), max=Decimal(1000)),
        HIGHER,
        default_thresholds(HIGHER),
        None,
    )
    assert short.explanation == (
        "400 against a target of 500 to 1,000 (80.0% of the nearer bound, 500); "
        "at least 70% of the nearer bound is Requires improvement"
    )
    late = rate(Decimal(12), Exact(value=Decimal(10)), LOWER, default_thresholds(LOWER), "days")
    assert late.explanation == (
        "12 days against a target of 10 (120.0% of target); "
        "at most 130% of target is Requires improvement"
    )


def test_a_share_that_rounds_to_a_threshold_is_shown_with_the_places_that_tell_them_apart() -> None:
    judged = rate(
        Decimal("8999.6"), Exact(value=Decimal(10000)), HIGHER, default_thresholds(HIGHER), None
    )
    assert judged.rating == "requires_improvement"
    assert "(89.996% of target)" in judged.explanation


@pytest.mark.parametrize(
    ("direction", "good", "approaching", "improvement", "fields"),
    [
        (HIGHER, "100", "95", "80", []),
        (HIGHER, "100", "100", "80", ["thresholds/approachingTarget"]),
        (HIGHER, "100", "70", "90", ["thresholds/requiresImprovement"]),
        (HIGHER, "120", "90", "70", ["thresholds/good"]),
        (HIGHER, "100", "90", "0", ["thresholds/requiresImprovement"]),
        (LOWER, "100", "120", "150", []),
        (LOWER, "100", "90", "150", ["thresholds/approachingTarget"]),
        (LOWER, "90", "110", "130", ["thresholds/good"]),
        (LOWER, "100", "110", "2000", ["thresholds/requiresImprovement"]),
    ],
)
def test_thresholds_are_ordered_and_in_range(
    direction: Direction, good: str, approaching: str, improvement: str, fields: list[str]
) -> None:
    t = Thresholds(
        good=Decimal(good),
        approaching_target=Decimal(approaching),
        requires_improvement=Decimal(improvement),
    )
    if not fields:
        check_thresholds(direction, t)
        return
    with pytest.raises(RuleBroken) as refused:
        check_thresholds(direction, t)
    assert [f for f, _ in refused.value.errors] == fields


def test_custom_thresholds_move_the_edges() -> None:
    t = Thresholds(
        good=Decimal(95), approaching_target=Decimal(80), requires_improvement=Decimal(50)
    )
    target = Exact(value=Decimal(100))
    assert rate(Decimal(95), target, HIGHER, t, None).rating == "good"
    assert rate(Decimal("94.9"), target, HIGHER, t, None).rating == "approaching_target"
    assert rate(Decimal(50), target, HIGHER, t, None).rating == "requires_improvement"
    assert rate(Decimal(49), target, HIGHER, t, None).rating == "inadequate"
    assert (
        "at least 95% of target is Good" in rate(Decimal(96), target, HIGHER, t, None).explanation
    )


def _contract(value: str | None = "5000000.01", **fields: object) -> Contract:
    money = None if value is None else Money(amount=Decimal(value))
    return Contract(
        id="c1",
        buyer_id="dfe",
        title="Attendance mentors",
        description=None,
        award_ids=["a1"],
        lot_ids=["l1"],
        tender_ids=["t1"],
        categories=["attendance_mentoring"],
        suppliers=[],
        value=money,
        current_value=money,
        amendments_value=Decimal(0),
        threshold_exceeded=False,
        starts_on=date(2022, 9, 1),
        ends_on=None,
        scope=None,
        status=ContractStatus.ACTIVE,
        version=1,
        created_at=NOW,
        updated_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def _kpi(**draft: object) -> Kpi:
    fields: dict[str, object] = {
        "name": "Persistently absent pupils supported",
        "unit": "pupils",
        "target": Range(min=Decimal(500), max=Decimal(1000)),
    } | draft
    return define(_contract(), KpiDraft(**fields), id="k1", now=NOW)  # type: ignore[arg-type]


def _seen(
    value: str | None, start: str, end: str, area: str | None = None, n: int = 0
) -> Observation:
    return Observation(
        id=f"o{n}",
        buyer_id="dfe",
        kpi_id="k1",
        contract_id="c1",
        number=n,
        period_start=date.fromisoformat(start),
        period_end=date.fromisoformat(end),
        value=None if value is None else Decimal(value),
        dimension_value=area,
        source=None,
        note=None,
        recorded_by="ops-user",
        recorded_at=NOW,
    )


AREAS = Dimension(name="area", values=["Knowsley", "Doncaster", "Stoke-on-Trent", "Salford"])


def test_a_period_sums_its_dimension_values_and_a_later_observation_corrects_an_earlier() -> None:
    kpi = _kpi(dimension=AREAS)
    period = [
        _seen("100", "2023-05-15", "2023-08-31", "Knowsley", 1),
        _seen("420", "2023-05-15", "2023-08-31", "Knowsley", 2),  # corrects the first
        _seen("455", "2023-05-15", "2023-08-31", "Doncaster", 3),
    ]
    partly = rated(kpi, period)
    assert partly.value == Decimal(875)
    assert partly.rating == "good"
    assert partly.explanation.endswith("(sum of 2 of the 4 area values)")
    assert [(f.dimension_value, f.value) for f in partly.by_dimension] == [
        ("Knowsley", Decimal(420)),
        ("Doncaster", Decimal(455)),
        ("Stoke-on-Trent", None),
        ("Salford", None),
    ]
    mean = rated(msgspec.structs.replace(kpi, combine=Combine.MEAN), period)
    assert mean.value == Decimal("437.5")
    assert mean.rating == "requires_improvement"  # 87.5% of the lower bound


def test_the_latest_period_is_rated_and_nothing_observed_or_no_target_is_other() -> None:
    kpi = _kpi()
    older = _seen("300", "2022-09-01", "2023-05-14", n=1)
    newer = _seen("700", "2023-05-15", "2023-08-31", n=2)
    assert latest_period([newer, older]) == [newer]
    assert rated(kpi, latest_period([older, newer])).rating == "good"
    nothing = rated(kpi, [])
    assert (nothing.rating, nothing.label) == ("other", "Other")
    assert nothing.explanation == "no observation recorded yet: Other"
    qualitative = rated(msgspec.structs.replace(kpi, target=None), [newer])
    assert qualitative.rating == "other"
    assert "qualitative" in qualitative.explanation
    window = assessed(kpi, [older, newer], date(2022, 9, 1), date(2023, 5, 31))
    assert (window.rating, window.value) == ("inadequate", Decimal(300))
    empty = assessed(kpi, [older, newer], date(2021, 9, 1), date(2022, 8, 31))
    assert empty.explanation == (
        "no observation of a period ending 2021-09-01 to 2022-08-31: Other"
    )


@pytest.mark.parametrize(
    ("value", "kpis", "exemption", "signs"),
    [
        ("5000000.01", 2, None, False),
        ("5000000.01", 3, None, True),
        ("5000000.01", 0, "Not suited to KPIs: a one-off purchase", True),
        ("5000000.00", 0, None, True),  # exactly £5m is not more than £5m
        (None, 0, None, True),  # unknown: not known to pass it
    ],
)
def test_section_52_asks_three_kpis_or_a_reason_above_five_million(
    value: str | None, kpis: int, exemption: str | None, signs: bool
) -> None:
    contract = _contract(value, kpi_exemption=exemption)
    if signs:
        check_section_52(contract, kpis)
        return
    with pytest.raises(RuleBroken) as refused:
        check_section_52(contract, kpis)
    assert "s.52" in refused.value.message
    assert "has 2" in refused.value.message
    assert refused.value.errors[0][0] == "kpis"
