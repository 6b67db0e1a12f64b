"""Facts of OCDS compiled releases, compared field by field (issue 24's round trip between
installations): each compiled release flattened to ``path -> value``, an array of objects keyed
by the objects' ``id`` (``contracts[C1]/implementation/milestones[M1]/dueDate``), so that two
exports of one process line up whatever the order of their arrays."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["KINDS", "Difference", "counted", "differences", "facts", "general"]

# What a compared object is, by the shape of its path (ids left out): the kinds.
KINDS = {
    "tender": "tenders",
    "tender/lots[]": "lots",
    "awards[]": "awards",
    "contracts[]": "contracts",
    "contracts[]/amendments[]": "amendments",
    "contracts[]/implementation/milestones[]": "milestones",
    "contracts[]/implementation/transactions[]": "transactions",
    "contracts[]/agreedMetrics[]": "KPIs",
    "contracts[]/implementation/metrics[]/observations[]": "observations",
    "parties[]": "parties",
}
_IDS = re.compile(r"\[[^\]]*\]")


# Arrays whose objects are keyed by what they say rather than by their id: an observation of
# a metric by its period and dimensions (an installation importing it gives it an id of its own).
_BY_CONTENT = {"contracts[]/implementation/metrics[]/observations"}


def _key(item: Any, index: int, path: str) -> str:
    if not isinstance(item, Mapping):
        return f"#{index}"
    if general(path) in _BY_CONTENT:
        period = item.get("period") or {}
        dimensions = sorted((item.get("dimensions") or {}).items())
        said = [period.get("startDate"), period.get("endDate")]
        return " ".join([*(str(s) for s in said), *(f"{k}={v}" for k, v in dimensions)])
    if isinstance(item.get("id"), str | int):
        return str(item["id"])
    return f"#{index}"


def _flatten(value: Any, path: str, out: dict[str, Any], objects: dict[str, int]) -> None:
    if isinstance(value, Mapping):
        kind = KINDS.get(general(path))
        if kind is not None:
            objects[kind] = objects.get(kind, 0) + 1
        for name, inner in value.items():
            _flatten(inner, f"{path}/{name}" if path else name, out, objects)
    elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        seen: Counter[str] = Counter()
        for index, item in enumerate(value):
            key = _key(item, index, path)
            seen[key] += 1  # a key said twice (two objects of one id) stays two objects
            key = key if seen[key] == 1 else f"{key}#{seen[key]}"
            _flatten(item, f"{path}[{key}]", out, objects)
    elif isinstance(value, list):
        out[path] = sorted(value, key=repr)
    else:
        out[path] = value


def facts(compiled: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, int]]:
    """Every field of the compiled releases by its path (under its ``ocid``), and how many
    objects of each kind (``KINDS``) they hold."""
    out: dict[str, Any] = {}
    objects: dict[str, int] = {}
    for release in compiled:
        found: dict[str, Any] = {}
        _flatten(release, "", found, objects)
        out |= {f"{release['ocid']} {path}": v for path, v in found.items()}
    return out, objects


class Difference(tuple[str, Any, Any]):
    """A field's path, its value in the first and in the second (``MISSING`` where absent)."""

    MISSING = "<missing>"

    def __new__(cls, path: str, first: Any, second: Any) -> Difference:
        return super().__new__(cls, (path, first, second))

    @property
    def path(self) -> str:
        return str(self[0])

    def __str__(self) -> str:
        return f"{self[0]}: {self[1]!r} -> {self[2]!r}"


def differences(
    first: Iterable[Mapping[str, Any]], second: Iterable[Mapping[str, Any]]
) -> list[Difference]:
    """Each field whose value differs between the first compiled releases and the second, or
    that only one of them has, in path order."""
    ours, _ = facts(first)
    theirs, _ = facts(second)
    missing = Difference.MISSING
    return [
        Difference(path, ours.get(path, missing), theirs.get(path, missing))
        for path in sorted(ours.keys() | theirs.keys())
        if ours.get(path, missing) != theirs.get(path, missing)
    ]


def general(path: str) -> str:
    """A path without its ocid and ids: ``contracts[]/implementation/milestones[]/status``."""
    return _IDS.sub("[]", path).split(" ", 1)[-1]


def counted(found: Iterable[Difference]) -> list[str]:
    """The differences in general: ``path: how`` (``only in the first``, ``only in the second``
    or ``differs``) with how often, in path order."""
    missing = Difference.MISSING

    def how(d: Difference) -> str:
        if d[2] == missing:
            return "only in the first"
        if d[1] == missing:
            return "only in the second"
        return "differs"

    tally = Counter(f"{general(d.path)}: {how(d)}" for d in found)
    return [f"{line} ({n})" for line, n in sorted(tally.items())]
