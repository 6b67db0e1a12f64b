"""The streaming OCDS reader: every shape, the same releases in the same places and order as the
whole-document reading (shapes.releases_in), metadata wherever it is, exact numbers, JSON
Lines, and memory that does not grow with the file."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from procure_tools.ocds.reader import ENCODE, OcdsFile, OcdsFileError, read_releases
from procure_tools.ocds.synthetic import write_release_package

from procure_shared.ocds.shapes import Shape, releases_in
from tests.support.ocds import DATA, RECORDED


def _whole(path: Path) -> Any:
    return json.loads(path.read_bytes(), parse_float=Decimal)


def _samples() -> list[Path]:
    return sorted((DATA / "samples").glob("*.json"))


def test_every_sample_streams_the_releases_releases_in_finds_in_the_same_places_and_order() -> None:
    samples = _samples()
    assert sorted(p.stem for p in samples) == sorted(RECORDED)
    for path in samples:
        file = OcdsFile(path)
        streamed = list(file.releases())
        assert streamed == list(releases_in(_whole(path))), path.name
        assert file.shape is RECORDED[path.stem][0], path.name


def test_a_packages_metadata_is_everything_but_its_releases_or_records() -> None:
    package = OcdsFile(
        DATA / "samples/fictional_release-package_full-lifecycle_ocds-213czf-000-00001.json"
    )
    package.scan()
    whole = _whole(package.path)
    assert package.metadata == {k: v for k, v in whole.items() if k != "releases"}
    records = OcdsFile(DATA / "samples/paraguay_record-package_274744.json")
    assert [w for w, _ in records.releases()] == ["/records/0/compiledRelease"]
    assert records.metadata["packages"]  # the linked release packages
    assert "records" not in records.metadata


def test_metadata_after_the_releases_is_known_before_the_first_release(tmp_path: Path) -> None:
    path = tmp_path / "late.json"
    release = {"ocid": "ocds-x-1", "id": "1", "date": "2024-01-01T00:00:00Z", "tag": ["tender"]}
    path.write_text(
        json.dumps(
            {
                "version": "1.1",
                "releases": [release, {"url": "https://x/2.json", "date": "2024", "tag": []}],
                "uri": "https://example.gov.uk/late.json",
                "publisher": {"name": "Late publisher"},
            }
        )
    )
    file = OcdsFile(path)
    units = file.units()
    first = next(units)
    assert file.metadata == {
        "version": "1.1",
        "uri": "https://example.gov.uk/late.json",
        "publisher": {"name": "Late publisher"},
    }
    assert first.releases == (("/releases/0", release),)
    assert list(units) == []  # the linked release is not a release


def test_a_record_packages_record_travels_with_its_releases_and_compiled_release() -> None:
    path = DATA / "samples/ukraine-prozorro_record_UA-2016-08-31-000670-b.json"
    (unit,) = OcdsFile(path).units()
    assert unit.record
    assert unit.pointer == ""
    assert [w for w, _ in unit.releases] == ["/releases/0", "/compiledRelease"]


def test_amounts_come_back_as_the_same_json_number_text(tmp_path: Path) -> None:
    path = tmp_path / "amounts.json"
    text = (
        '{"ocid":"ocds-x-1","id":"1","date":"2024-01-01T00:00:00Z","tag":["award"],'
        '"awards":[{"id":"a","value":{"amount":7987500.00,"currency":"GBP"}},'
        '{"id":"b","value":{"amount":12,"currency":"GBP"}},'
        '{"id":"c","value":{"amount":0.10,"currency":"GBP"}},'
        '{"id":"d","value":{"amount":"1,5","currency":"MDL"}}]}'
    )
    path.write_text(text)
    ((_, release),) = read_releases(path)
    assert ENCODE(release).decode() == text
    assert release["awards"][0]["value"]["amount"] == Decimal("7987500.00")


def test_json_lines_of_releases_and_packages_are_read_line_by_line(tmp_path: Path) -> None:
    package = _whole(
        DATA / "samples/fictional_release-package_full-lifecycle_ocds-213czf-000-00001.json"
    )
    release = _whole(DATA / "samples/nigeria_release_ocds-gyl66f-borbda-2wlmoa.json")
    path = tmp_path / "mixed.jsonl"
    lines = [ENCODE(d).decode() for d in (release, package, release)]
    lines.insert(1, "")
    path.write_text("\n".join(lines) + "\n")
    file = OcdsFile(path)
    places = [w for w, _ in file.releases()]
    assert places == ["/0", *[f"/2/releases/{i}" for i in range(6)], "/3"]
    assert file.shape is Shape.RELEASE
    assert file.position == path.stat().st_size


def test_what_is_not_ocds_or_not_json_is_refused_with_a_reason(tmp_path: Path) -> None:
    cases = {"array.json": "[1, 2]", "other.json": '{"name": "x"}', "broken.json": '{"releases": ['}
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(OcdsFileError):
            list(read_releases(path))


def _peak(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_releases(path))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_10_000_releases_takes_no_more_memory_than_reading_2_000(tmp_path: Path) -> None:
    # tracemalloc slows every allocation down: 2,000 and 10,000 keep the test under a minute.
    small, large = tmp_path / "2k.json", tmp_path / "10k.json"
    with small.open("wb") as out:
        write_release_package(out, 2_000)
    with large.open("wb") as out:
        write_release_package(out, 10_000)
    assert large.stat().st_size > 4.5 * small.stat().st_size
    count, small_peak = _peak(small)
    assert count == 2_000
    count, large_peak = _peak(large)
    assert count == 10_000
    assert large_peak < 1.2 * small_peak, (small_peak, large_peak)
    assert large_peak < 4 * 2**20  # a release or two and a parser's buffer, not the file
    file = OcdsFile(small)
    assert [w for w, _ in itertools.islice(file.releases(), 3)] == [
        "/releases/0",
        "/releases/1",
        "/releases/2",
    ]
    assert file.metadata["publisher"] == {
        "name": "Procure bench",
        "scheme": "GB-COH",
        "uid": "00000000",
    }
