"""The compiler merges releases as nested objects; it must give exactly what the reference
implementation (ocdsmerge) gives: on every real sample, on generated processes, and on the
odd cases the reference treats in its own way (which the compiler leaves to it)."""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from typing import Any

import pytest
from procure_tools.ocds.synthetic import releases

from procure_contracts.ocds.merge import Compiler
from procure_contracts.ocds.schema import OcdsSchemas
from procure_shared.ocds.shapes import releases_in
from tests.support.ocds import SCHEMAS, samples


@pytest.fixture(scope="module")
def compiler() -> Compiler:
    return Compiler(OcdsSchemas(SCHEMAS).release_schema)


def same(compiler: Compiler, given: list[dict[str, Any]]) -> dict[str, Any]:
    """The compiled release, after checking it is the reference's, with the same warnings
    and in the same key order."""
    with warnings.catch_warnings(record=True) as reference_warnings:
        warnings.simplefilter("always")
        expected = compiler.reference(given)
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        found = compiler.compile(given)
    assert found == expected
    assert json.dumps(found) == json.dumps(expected)
    assert [str(w.message) for w in our_warnings] == [str(w.message) for w in reference_warnings]
    return found


def processes(document: Any) -> dict[str, list[dict[str, Any]]]:
    by_ocid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for where, release in releases_in(document):
        if where.endswith("compiledRelease") or not isinstance(release, dict):
            continue
        if isinstance(release.get("ocid"), str) and isinstance(release.get("date"), str):
            by_ocid[release["ocid"]].append(release)
    return by_ocid


def test_every_samples_processes_compile_as_the_reference_compiles_them(
    compiler: Compiler,
) -> None:
    compiled = 0
    for path in samples().values():
        for given in processes(json.loads(path.read_bytes())).values():
            same(compiler, given)
            compiled += 1
    assert compiled == 14  # the processes whose releases the samples carry whole


def test_generated_processes_compile_as_the_reference_compiles_them(compiler: Compiler) -> None:
    document = json.loads(json.dumps({"releases": list(releases(500))}, default=lambda d: float(d)))
    found = processes(document)
    assert len(found) == 100
    for given in found.values():
        compiled = same(compiler, given)
        assert compiled["tag"] == ["compiled"]
        assert compiled["contracts"]


def release(date: str, **fields: Any) -> dict[str, Any]:
    return {"ocid": "ocds-x-1", "id": date, "date": date, "tag": ["tender"], **fields}


ODD = {
    "a later value replaces an earlier": [
        release("2020-01-01", tender={"title": "A", "status": "active"}),
        release("2020-01-02", tender={"title": "B"}),
    ],
    "null removes a value and a later value brings it back": [
        release("2020-01-01", tender={"title": "A", "description": "D"}),
        release("2020-01-02", tender={"title": None}),
        release("2020-01-03", tender={"description": None}),
        release("2020-01-04", tender={"description": "E"}),
    ],
    "objects of an array merge by id, new ones are appended, ones without id always": [
        release("2020-01-01", awards=[{"id": "1", "title": "a"}, {"title": "no id"}]),
        release("2020-01-02", awards=[{"id": "2", "title": "b"}, {"id": "1", "status": "active"}]),
        release("2020-01-03", awards=[{"title": "no id again"}]),
    ],
    "an id given as a number and as a string is one object, keeping the first": [
        release("2020-01-01", awards=[{"id": 1, "title": "a"}]),
        release("2020-01-02", awards=[{"id": "1", "status": "active"}]),
    ],
    "a null id": [
        release("2020-01-01", awards=[{"id": None, "title": "a"}]),
        release("2020-01-02", awards=[{"id": None, "status": "active"}]),
    ],
    "whole-list fields and lists of values are replaced, not merged": [
        release(
            "2020-01-01",
            parties=[{"id": "p", "roles": ["buyer"], "additionalIdentifiers": [{"id": "x"}]}],
            tender={"submissionMethod": ["electronicSubmission"]},
        ),
        release(
            "2020-01-02",
            parties=[{"id": "p", "roles": ["payer"], "additionalIdentifiers": [{"id": "y"}]}],
            tender={"submissionMethod": ["written"]},
        ),
    ],
    "empty objects and arrays say nothing": [
        release("2020-01-01", tender={"items": [{"id": "i"}], "value": {"amount": 1}}),
        release("2020-01-02", tender={"items": [], "value": {}}),
    ],
    "a null object leaves what it held (the reference's way)": [
        release("2020-01-01", tender={"value": {"amount": 1, "currency": "GBP"}}),
        release("2020-01-02", tender={"value": None}),
    ],
    "a value where an object was": [
        release("2020-01-01", tender={"value": {"amount": 1}}),
        release("2020-01-02", tender={"value": 5}),
    ],
    "an object where a null was": [
        release("2020-01-01", tender={"value": None}),
        release("2020-01-02", tender={"value": {"amount": 1}}),
    ],
    "a list of values where objects were": [
        release("2020-01-01", tender={"items": [{"id": "i"}]}),
        release("2020-01-02", tender={"items": ["i"]}),
    ],
    "two objects of one array with one id (the reference warns)": [
        release("2020-01-01", awards=[{"id": "1", "title": "a"}, {"id": "1", "title": "b"}]),
    ],
    "releases out of date order, and ties in their given order": [
        release("2020-01-03", tender={"title": "C"}),
        release("2020-01-01", tender={"title": "A"}),
        {**release("2020-01-03", tender={"title": "D"}), "id": "tie"},
    ],
    "one release": [release("2020-01-01", tender={"title": "A"})],
    "unknown fields and extensions' fields": [
        release("2020-01-01", extra={"a": [{"id": 1, "b": 2}]}, tender={"lots": [{"id": "1"}]}),
        release("2020-01-02", extra={"a": [{"id": 1, "c": 3}]}, tender={"lots": [{"id": "2"}]}),
    ],
}


@pytest.mark.parametrize("case", list(ODD))
def test_odd_cases_compile_as_the_reference_compiles_them(compiler: Compiler, case: str) -> None:
    same(compiler, ODD[case])
