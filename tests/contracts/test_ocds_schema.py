"""The OCDS 1.1.5 schemas with the lots and metrics extensions, from local files: each real
sample's releases and compiled releases break them exactly as often as the data README records,
whatever shape the file has."""

from __future__ import annotations

import json

import pytest

from procure_contracts.ocds.schema import OcdsSchemas, merge_patch
from procure_shared.ocds.shapes import releases_in, shape_of
from tests.support.ocds import DATA, RECORDED, SCHEMAS


@pytest.fixture(scope="module")
def schemas() -> OcdsSchemas:
    return OcdsSchemas(SCHEMAS)


def test_every_sample_breaks_the_extended_schema_as_often_as_its_readme_records(
    schemas: OcdsSchemas,
) -> None:
    core = OcdsSchemas(SCHEMAS, extensions=())
    samples = {path.stem: path for path in sorted((DATA / "samples").glob("*.json"))}
    assert sorted(samples) == sorted(RECORDED)
    for name, path in samples.items():
        document = json.loads(path.read_text(encoding="utf-8"))
        shape, errors = RECORDED[name]
        assert shape_of(document) is shape, name
        releases = list(releases_in(document))
        assert releases, name
        for checked in (schemas, core):  # the extensions change no count
            found = [e for _, r in releases for e in checked.release_errors(r)]
            assert len(found) == errors, (name, found)


def test_a_record_packages_linked_releases_are_not_releases() -> None:
    document = json.loads((DATA / "samples/paraguay_record-package_274744.json").read_text())
    assert [where for where, _ in releases_in(document)] == ["/records/0/compiledRelease"]


def test_the_extensions_add_lots_and_metrics_and_an_error_names_its_place(
    schemas: OcdsSchemas,
) -> None:
    definitions = schemas.release_schema["definitions"]
    assert "lots" in definitions["Tender"]["properties"]
    assert "agreedMetrics" in definitions["Contract"]["properties"]
    assert "Metric" in definitions
    release = {
        "ocid": "ocds-213czf-1",
        "id": "1",
        "date": "2022-06-27T09:00:00Z",
        "tag": ["contract"],
        "initiationType": "tender",
        "tender": {"id": "t", "lots": [{"id": "lot-1", "title": "Attendance mentoring"}]},
    }
    assert schemas.release_errors(release) == []
    broken = release | {"tender": {"id": "t", "lots": [{"id": "lot-1", "status": "awarded"}]}}
    (error,) = schemas.release_errors(broken)  # not a tender status: the lots extension's enum
    assert error.path == "/tender/lots/0/status"
    assert "'awarded' is not one of" in error.message


def test_a_merge_patch_follows_rfc_7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    patch = {"a": "z", "c": {"f": None}}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch(["a", "b"], {"a": "c"}) == {"a": "c"}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}}  # unchanged


def test_the_fast_validator_and_the_python_one_agree_on_every_release_of_every_sample(
    schemas: OcdsSchemas,
) -> None:
    for path in sorted((DATA / "samples").glob("*.json")):
        for where, release in releases_in(json.loads(path.read_text(encoding="utf-8"))):
            assert schemas.release_errors(release) == schemas.slow_release_errors(release), (
                path.stem,
                where,
            )
