"""The documents clients rely on do not change while the code is reorganised (issue 25): each
service's OpenAPI document and the AsyncAPI document are compared with the baseline kept in
``baseline/``, as they were when the reorganisation began (2026-12-05, at 3f9b1db). A
difference is allowed only where ``ALLOWED`` names its place and says why; the closing note of
the step that allows it lists it too. The baseline files are never regenerated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_documents import SERVICES, asyncapi, openapi

BASELINE = Path(__file__).parent / "baseline"

# (document, JSON pointer) -> why that place may differ from the baseline.
ALLOWED: dict[tuple[str, str], str] = {
    # The two components renamed below (RENAMED) carry their new name as their title too.
    ("contracts.openapi.json", "/components/schemas/AssessedParty/title"): "renamed: Party",
    ("contracts.openapi.json", "/components/schemas/PaymentParty/title"): "renamed: Party",
}
# A string that became an enum of the values it always held: (document, component, property)
# -> the enum's component, which is new.
BECAME_ENUMS = {
    ("notifications.openapi.json", "Delivery", "status"): "DeliveryStatus",
    ("notifications.openapi.json", "DeliveryDetail", "status"): "DeliveryStatus",
    ("notifications.openapi.json", "Attempt", "outcome"): "Outcome",
    ("notifications.openapi.json", "Tested", "outcome"): "Outcome",
}
for (_document, _component, _property), _enum in BECAME_ENUMS.items():
    _at = f"/components/schemas/{_component}/properties/{_property}"
    ALLOWED[(_document, f"{_at}/type")] = f"a string, now the enum {_enum}"
    ALLOWED[(_document, f"{_at}/$ref")] = f"a string, now the enum {_enum}"
    ALLOWED[(_document, f"/components/schemas/{_enum}")] = "the enum of the values it held"
# document -> {component in the baseline: its name now}. Litestar names a Struct whose name
# another shares after the modules that hold them ("assessment_Party"), so moving a module
# renamed them; each now has a name of its own, which no move changes. Their content must be
# the baseline's: the comparison reads the baseline with the new names.
RENAMED: dict[str, dict[str, str]] = {
    "contracts.openapi.json": {
        "assessment_Party": "AssessedParty",  # kpis/assessment.py (was domain/)
        "milestones_Party": "PaymentParty",  # a transaction's payer and payee: milestones/rules.py
    },
}


def differences(before: Any, after: Any, at: str = "") -> Iterator[str]:
    """The JSON pointers where ``after`` differs from ``before`` (the deepest place of each)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            here = f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in before or key not in after:
                yield here
            else:
                yield from differences(before[key], after[key], here)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for n, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from differences(b, a, f"{at}/{n}")
    elif before != after:
        yield at


def renamed(document: Any, names: dict[str, str]) -> Any:
    """``document`` with each component named anew, and every reference to it."""
    if isinstance(document, dict):
        return {
            names.get(key, key): (
                _reference(value, names) if key == "$ref" else renamed(value, names)
            )
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [renamed(item, names) for item in document]
    return document


def _reference(value: Any, names: dict[str, str]) -> Any:
    prefix = "#/components/schemas/"
    if isinstance(value, str) and value.startswith(prefix):
        return prefix + names.get(value.removeprefix(prefix), value.removeprefix(prefix))
    return value


def unexplained(name: str, document: dict[str, Any]) -> list[str]:
    kept = renamed(json.loads((BASELINE / name).read_text()), RENAMED.get(name, {}))
    return [where for where in differences(kept, document) if (name, where) not in ALLOWED]


def test_differences_are_found_at_the_deepest_place_that_differs() -> None:
    before = {"a": {"b": [1, {"c": 2}], "d/e": 3}, "gone": 1}
    after = {"a": {"b": [1, {"c": 4}], "d/e": 3}, "new": 1}
    assert list(differences(before, after)) == ["/a/b/1/c", "/gone", "/new"]
    assert list(differences([1, 2], [1, 2, 3])) == [""]  # a list that grew differs whole
    assert list(differences(before, before)) == []


def test_a_renamed_component_is_compared_under_its_new_name_with_its_references() -> None:
    before = {
        "components": {"schemas": {"old_Party": {"type": "object"}}},
        "paths": {"/x": {"$ref": "#/components/schemas/old_Party"}},
    }
    assert renamed(before, {"old_Party": "Party"}) == {
        "components": {"schemas": {"Party": {"type": "object"}}},
        "paths": {"/x": {"$ref": "#/components/schemas/Party"}},
    }


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_openapi_document_is_the_baseline(service: str) -> None:
    assert unexplained(f"{service}.openapi.json", openapi(service)) == []


def test_the_asyncapi_document_is_the_baseline() -> None:
    assert unexplained("asyncapi.json", asyncapi()) == []
