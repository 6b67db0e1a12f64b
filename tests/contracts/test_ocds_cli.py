"""``procure ocds import`` and ``procure ocds export``, run as the command they are, against the
real contracts service (served on a port) and the real providers service behind it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_contracts.app import definition as contracts_definition
from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.settings import ContractsOptions
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.service import Runtime, build_app
from tests.contracts.conftest import Api
from tests.support.auth import token
from tests.support.ocds import BUYER_NAMES, DATA, RECORDED, SCHEMAS, samples
from tests.support.runtime import runtime_for
from tests.support.serving import serving

PROCURE = Path(sys.executable).parent / "procure"


@pytest.fixture
def options(providers_api: str) -> ContractsOptions:
    return ContractsOptions(
        eligibility_timeout=1.0, providers_url=providers_api, buyer_names=BUYER_NAMES
    )


@pytest.fixture
async def contracts_api(crt: Runtime, options: ContractsOptions) -> AsyncIterator[str]:
    async with serving(build_app(contracts_definition(options), crt), lifespan="off") as url:
        yield url


async def procure(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(PROCURE),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("PROCURE_")}
        | {"COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
    return await proc.wait(), out.decode(), err.decode()


def _reports(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name.removesuffix(".json.quality.json"): json.loads(p.read_text())
        for p in sorted(folder.glob("*.quality.json"))
    }


async def test_a_folder_of_samples_imports_with_the_readmes_error_counts_and_again_changes_nothing(
    contracts_api: str, tmp_path: Path
) -> None:
    admin = token(Role.ADMIN, buyer=None)
    first, again = tmp_path / "first", tmp_path / "again"
    args = ["ocds", "import", str(DATA / "samples"), "--buyer", "dfe", "--url", contracts_api]
    code, out, err = await procure(*args, "--token", admin, "--report-dir", str(first))
    assert code == 0, (out, err)
    reports = _reports(first)
    assert sorted(reports) == sorted(RECORDED)
    for name, report in reports.items():
        shape, errors = RECORDED[name]
        assert report["shape"] == shape.value, name
        assert report["schemaErrors"] == errors, (name, report["errors"])
        assert len(report["errors"]) == errors, name
        assert report["source"] == f"{name}.json"
        assert report["releasesRead"] >= 1, name
    assert "moldova_record_ocds-ngfbwp-16949496.json" in out
    fictional = reports["fictional_release-package_full-lifecycle_ocds-213czf-000-00001"]
    assert (fictional["releasesRead"], fictional["imported"], fictional["skipped"]) == (6, 6, 0)
    # A record's errors are placed in the file: its release and its compiled release.
    moldova = reports["moldova_record_ocds-ngfbwp-16949496"]
    assert {e["where"] for e in moldova["errors"]} == {"/releases/0", "/compiledRelease"}
    code, out, err = await procure(*args, "--token", admin, "--report-dir", str(again))
    assert code == 0, (out, err)
    for name, report in _reports(again).items():
        before = reports[name]
        assert report["imported"] == 0, name
        assert report["skipped"] == before["imported"] + before["skipped"], name
        assert report["schemaErrors"] == before["schemaErrors"], name


async def test_a_large_file_goes_in_batches_and_its_errors_keep_their_places_in_the_file(
    contracts_api: str, tmp_path: Path
) -> None:
    """Eleven releases of the fictional process, one broken, with --batch 3: one process's run
    of releases is not cut before twice the batch (6 and 5 a request), and the error is the
    file's /releases/9, not the second batch's /releases/3."""
    package = json.loads(
        samples()["fictional_release-package_full-lifecycle_ocds-213czf-000-00001"].read_text()
    )
    releases = package["releases"]
    broken = {**releases[0], "id": "broken", "tag": ["not-a-tag"]}
    package["releases"] = [*releases, *releases[:3], broken, releases[3]]
    path = tmp_path / "batched.json"
    path.write_text(json.dumps(package))
    reports = tmp_path / "reports"
    code, out, err = await procure(
        "ocds", "import", str(path), "--buyer", "dfe", "--url", contracts_api, "--batch", "3",
        "--token", token(Role.ADMIN, buyer=None), "--report-dir", str(reports), "--source", "mine",
    )  # fmt: skip
    assert code == 0, (out, err)
    report = _reports(reports)["batched"]
    assert report["batches"] == 2
    assert report["source"] == "mine"
    assert (report["releasesRead"], report["imported"], report["skipped"]) == (11, 7, 4)
    assert [e["where"] for e in report["errors"]] == ["/releases/9"]


async def test_a_refused_request_stops_the_import_with_the_services_problem(
    contracts_api: str, tmp_path: Path
) -> None:
    path = tmp_path / "one.json"
    shutil.copy(samples()["nigeria_release_ocds-gyl66f-borbda-2wlmoa"], path)
    options = ["--buyer", "dfe", "--url", contracts_api]
    viewer = token(Role.VIEWER, buyer="dfe")
    code, out, err = await procure("ocds", "import", str(path), *options, "--token", viewer)
    assert code == 2, (out, err)
    assert "HTTP 403" in err
    other = tmp_path / "other.json"
    other.write_text('{"name": "not OCDS"}')
    admin = token(Role.ADMIN, buyer=None)
    code, out, err = await procure("ocds", "import", str(other), *options, "--token", admin)
    assert code == 1, (out, err)
    assert "not an OCDS release, record or package" in err


@pytest.mark.check
async def test_the_export_writes_release_packages_and_records_that_validate(
    demo: Api,
    cpool: Pool,
    nc: Client,
    js: JetStreamContext,
    contracts_url: str,
    clock: FixedClock,
    options: ContractsOptions,
    tmp_path: Path,
) -> None:
    schemas = OcdsSchemas(SCHEMAS)
    out = tmp_path / "export"
    # The demo's service on a port of its own (a runtime of its own: its metrics apart).
    runtime = runtime_for("contracts", contracts_url, cpool, nc, js, clock)
    async with serving(build_app(contracts_definition(options), runtime), lifespan="off") as url:
        code, stdout, err = await procure(
            "ocds", "export", "--out", str(out), "--url", url,
            "--token", token(Role.VIEWER, buyer="dfe"),
        )  # fmt: skip
    assert code == 0, (stdout, err)
    pages = sorted(out.glob("releases-*.json"))
    assert pages
    releases = [r for p in pages for r in json.loads(p.read_text())["releases"]]
    for release in releases:
        assert schemas.release_errors(release) == [], release["id"]
    ocids = {r["ocid"] for r in releases}
    records = sorted((out / "records").glob("*.json"))
    assert len(records) == len(ocids)
    for path in records:
        (record,) = json.loads(path.read_text())["records"]
        assert record["ocid"] in ocids
        assert schemas.release_errors(record["compiledRelease"]) == [], path.name
        for release in record["releases"]:
            assert schemas.release_errors(release) == []
    assert f"{len(releases):,} releases" in stdout
    assert f"{len(records):,} records" in stdout


async def test_our_export_imported_back_into_its_buyer_makes_no_second_copy(
    demo: Api,
    cpool: Pool,
    nc: Client,
    js: JetStreamContext,
    contracts_url: str,
    clock: FixedClock,
    options: ContractsOptions,
    tmp_path: Path,
) -> None:
    out, reports = tmp_path / "export", tmp_path / "reports"
    tenders = "SELECT (SELECT count(*) FROM tenders), (SELECT count(*) FROM contracts)"
    async with cpool.acquire() as conn:
        (row,) = await conn.fetch(tenders)
        before = tuple(row)
    runtime = runtime_for("contracts", contracts_url, cpool, nc, js, clock)
    async with serving(build_app(contracts_definition(options), runtime), lifespan="off") as url:
        code, stdout, err = await procure(
            "ocds", "export", "--out", str(out), "--url", url,
            "--token", token(Role.VIEWER, buyer="dfe"),
        )  # fmt: skip
        assert code == 0, (stdout, err)
        code, stdout, err = await procure(
            "ocds", "import", str(out), "--buyer", "dfe", "--url", url,
            "--token", token(Role.ADMIN, buyer=None), "--report-dir", str(reports),
        )  # fmt: skip
    assert code == 0, (stdout, err)
    imported = _reports(reports)
    assert imported
    assert sum(r["imported"] for r in imported.values()) == 0
    assert sum(r["skipped"] for r in imported.values()) == sum(
        r["releasesRead"] for r in imported.values()
    )
    async with cpool.acquire() as conn:
        (row,) = await conn.fetch(tenders)
        assert tuple(row) == before
    assert before[0] >= 3
