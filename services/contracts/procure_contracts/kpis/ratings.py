"""KPI ratings (Procurement Act 2023 s.71): a period's figure against the KPI's target, rated
with the statutory words, and an explanation saying what was compared with what.

Thresholds are percentages of the target. Higher is better (defaults): at or above 100% is
Good, at least 90% Approaching target, at least 70% Requires improvement, below that
Inadequate. Lower is better mirrors them: at most 100%, 110%, 130%. A range target (``500 to
1,000 pupils``) is Good inside the range and beyond it on the side the direction prefers; on
the other side the figure is measured against the nearer bound with the same thresholds. A KPI
with no numeric target (qualitative), or a period with no figure, is Other.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum

import msgspec

from procure_shared.errors import RuleBroken
from procure_shared.events.contracts import Rating

__all__ = [
    "LABELS",
    "Combine",
    "Direction",
    "Exact",
    "Judged",
    "Range",
    "Target",
    "Thresholds",
    "check_target",
    "check_thresholds",
    "combine",
    "default_thresholds",
    "number",
    "rate",
    "target_text",
    "unrated",
]

# The statutory words of each rating (the codes are ``procure_shared.events.contracts.Rating``).
LABELS: dict[Rating, str] = {
    "good": "Good",
    "approaching_target": "Approaching target",
    "requires_improvement": "Requires improvement",
    "inadequate": "Inadequate",
    "other": "Other",
}
HUNDRED = Decimal(100)
# A lower-is-better threshold past ten times the target is taken for a typo.
MOST = Decimal(1000)
# A mean is kept to four decimal places (a third of a pupil needs no more).
PLACES = Decimal("0.0001")


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Combine(StrEnum):
    """How the observations of one period (one per dimension value) make its figure."""

    SUM = "sum"
    MEAN = "mean"


class Exact(msgspec.Struct, frozen=True, kw_only=True, tag="value", tag_field="kind"):
    """A target of one figure (e.g. 524,000 pupils)."""

    value: Decimal


class Range(msgspec.Struct, frozen=True, kw_only=True, tag="range", tag_field="kind"):
    """A target range, bounds included (e.g. 500 to 1,000 pupils)."""

    min: Decimal
    max: Decimal


Target = Exact | Range


class Thresholds(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The percentages of the target at which each rating starts (at or above them when higher
    is better, at or below them when lower is better)."""

    good: Decimal
    approaching_target: Decimal
    requires_improvement: Decimal


def default_thresholds(direction: Direction) -> Thresholds:
    if direction is Direction.HIGHER_IS_BETTER:
        return Thresholds(
            good=Decimal(100), approaching_target=Decimal(90), requires_improvement=Decimal(70)
        )
    return Thresholds(
        good=Decimal(100), approaching_target=Decimal(110), requires_improvement=Decimal(130)
    )


def check_thresholds(direction: Direction, t: Thresholds) -> None:
    """Ordered and in range: 0 < requiresImprovement < approachingTarget < good <= 100 when
    higher is better; 100 <= good < approachingTarget < requiresImprovement <= 1000 when lower
    is better."""
    errors: list[tuple[str, str]] = []
    if direction is Direction.HIGHER_IS_BETTER:
        if not 0 < t.good <= HUNDRED:
            errors.append(("thresholds/good", "Good starts above 0% and at most at 100% of target"))
        if not t.approaching_target < t.good:
            errors.append(("thresholds/approachingTarget", "must be below good"))
        if not t.requires_improvement < t.approaching_target:
            errors.append(("thresholds/requiresImprovement", "must be below approachingTarget"))
        if not t.requires_improvement > 0:
            errors.append(("thresholds/requiresImprovement", "must be above 0%"))
        order = "0 < requiresImprovement < approachingTarget < good <= 100"
    else:
        if not HUNDRED <= t.good < MOST:
            errors.append(("thresholds/good", "Good ends at or above 100% of target"))
        if not t.approaching_target > t.good:
            errors.append(("thresholds/approachingTarget", "must be above good"))
        if not t.requires_improvement > t.approaching_target:
            errors.append(("thresholds/requiresImprovement", "must be above approachingTarget"))
        if not t.requires_improvement <= MOST:
            errors.append(("thresholds/requiresImprovement", "must be at most 1000%"))
        order = "100 <= good < approachingTarget < requiresImprovement <= 1000"
    if errors:
        raise RuleBroken(
            f"thresholds are percentages of the target in order ({order}) for a KPI where "
            f"{direction.replace('_', ' ')}",
            errors=errors,
        )


def check_target(direction: Direction, target: Target) -> None:
    if isinstance(target, Exact):
        if target.value <= 0:
            raise RuleBroken("a target is more than zero", "target/value")
        return
    if target.min < 0:
        raise RuleBroken("a range starts at zero or more", "target/min")
    if target.max <= target.min:
        raise RuleBroken(f"the range's max ({target.max}) is above its min", "target/max")
    if direction is Direction.HIGHER_IS_BETTER and target.min == 0:
        raise RuleBroken(
            "a higher-is-better range starts above zero: a shortfall is measured against it",
            "target/min",
        )


def number(value: Decimal) -> str:
    """``165,230``; ``1,665.5``; at most two decimal places."""
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        value = value.quantize(Decimal("0.01"))
    return f"{value:,}"


def target_text(target: Target) -> str:
    if isinstance(target, Exact):
        return number(target.value)
    return f"{number(target.min)} to {number(target.max)}"


def combine(values: Sequence[Decimal], how: Combine) -> Decimal:
    total = sum(values, Decimal(0))
    if how is Combine.SUM:
        return total
    mean = total / len(values)
    exponent = mean.as_tuple().exponent
    return mean.quantize(PLACES) if isinstance(exponent, int) and exponent < -4 else mean


class Judged(msgspec.Struct, frozen=True, kw_only=True):
    rating: Rating
    explanation: str


def unrated(why: str) -> Judged:
    return Judged(rating="other", explanation=f"{why}: Other")


def _percent(value: Decimal, bound: Decimal, marks: Sequence[Decimal]) -> tuple[Decimal, str]:
    """``value`` as a percentage of ``bound``, and as shown: one decimal place, more when one
    place would show a threshold the figure does not reach."""
    share = value / bound * HUNDRED
    for places in ("0.1", "0.01", "0.001", "0.0001"):
        shown = share.quantize(Decimal(places))
        if shown not in marks or shown == share:
            break
    return share, f"{shown}%"


def _band(share: Decimal, direction: Direction, t: Thresholds, of: str) -> Judged:
    """The rating of ``share`` (a percentage of the target or bound named by ``of``)."""
    higher = direction is Direction.HIGHER_IS_BETTER
    bands: list[tuple[Decimal, Rating]] = [
        (t.good, "good"),
        (t.approaching_target, "approaching_target"),
        (t.requires_improvement, "requires_improvement"),
    ]
    for mark, rating in bands:
        if (share >= mark) if higher else (share <= mark):
            if mark == HUNDRED and rating == "good":
                rule = f"at or {'above' if higher else 'below'} {of} is Good"
            else:
                rule = f"at {'least' if higher else 'most'} {mark}% of {of} is {LABELS[rating]}"
            return Judged(rating=rating, explanation=rule)
    last = t.requires_improvement
    return Judged(
        rating="inadequate",
        explanation=f"{'below' if higher else 'above'} {last}% of {of} is Inadequate",
    )


def rate(
    value: Decimal,
    target: Target,
    direction: Direction,
    thresholds: Thresholds,
    unit: str | None,
) -> Judged:
    """The rating of a period's figure, and what was compared with what."""
    t = thresholds
    marks = [t.good, t.approaching_target, t.requires_improvement]
    figure = f"{number(value)}{' ' + unit if unit else ''}"
    higher = direction is Direction.HIGHER_IS_BETTER
    if isinstance(target, Exact):
        share, shown = _percent(value, target.value, marks)
        judged = _band(share, direction, t, "target")
        return Judged(
            rating=judged.rating,
            explanation=f"{figure} against a target of {number(target.value)} ({shown} of "
            f"target); {judged.explanation}",
        )
    against = f"{figure} against a target of {target_text(target)}"
    if target.min <= value <= target.max:
        return Judged(rating="good", explanation=f"{against}: within the range is Good")
    above = value > target.max
    if above == higher:
        side = "above" if above else "below"
        better = "higher" if higher else "lower"
        return Judged(
            rating="good",
            explanation=f"{against}: {side} the range is Good ({better} is better)",
        )
    bound = target.min if higher else target.max
    share, shown = _percent(value, bound, marks)
    judged = _band(share, direction, t, "the nearer bound")
    return Judged(
        rating=judged.rating,
        explanation=f"{against} ({shown} of the nearer bound, {number(bound)}); "
        f"{judged.explanation}",
    )
