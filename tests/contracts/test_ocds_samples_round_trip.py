"""Issue 24's per-file verification: each real OCDS sample (``tests/data/ocds/samples``)
imported into one contracts service, its processes exported (record packages and release
pages) and checked both ways (the project's validator and plain Draft 4: no error), that export
imported into a second installation (``elsewhere``, the same buyer) and exported again, and the
two exports' compiled releases compared field by field (``tests/support/round_trip``): what
differs must be of a kind ``docs/ocds.md`` ("Round trip") documents, and nothing else.

Each file prints its line for the issue's closing note:
``<file>: N releases read, N imported, N source schema errors, N problem lines; export 0 schema
errors; round trip: N objects, N fields compared, N documented differences`` (the differences
counted in fields, each of a documented kind)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from procure_contracts.events.provider_directory import provider_directory_consumer
from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.settings import ContractsOptions
from procure_shared.db.postgres import Pool
from procure_shared.messaging.consumer import Consumer
from tests.contracts.conftest import Api, Elsewhere
from tests.contracts.test_ocds_round_trip import DOCUMENTED, directory_size
from tests.support.ocds import RECORDED, samples
from tests.support.ocds_export import (
    import_into,
    package_errors,
    publishing,
    record_package,
    release_errors,
    release_packages,
)
from tests.support.round_trip import counted, differences, facts
from tests.support.wait import equals, eventually, running

# The kinds of difference docs/ocds.md ("Round trip") documents (``path: how``), whatever how
# many a file shows.
KINDS_DOCUMENTED = {line.rsplit(" (", 1)[0] for line in DOCUMENTED}


@pytest.fixture
def options(providers_api: str) -> ContractsOptions:
    return publishing(providers_api)


def export_errors(
    schemas: OcdsSchemas,
    records: Sequence[Mapping[str, Any]],
    pages: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Every schema error in an export, both ways: each package by plain Draft 4, each release
    and compiled release by the project's validator."""
    found: list[str] = []
    for package in records:
        found += package_errors("record-package", package)
        for record in package["records"]:
            for release in [*record["releases"], record["compiledRelease"]]:
                found += [f"{release['id']} {e}" for e in release_errors(schemas, release)]
    for page in pages:
        found += package_errors("release-package", page)
        for release in page["releases"]:
            found += [f"{release['id']} {e}" for e in release_errors(schemas, release)]
    return found


async def exported(
    api: Api, ocids: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The record package of each process, and the release pages of the buyer cut to those
    processes' releases (the pages hold every earlier sample's too)."""
    records = [await record_package(api, ocid) for ocid in ocids]
    pages = []
    for page in await release_packages(api):
        mine = [r for r in page["releases"] if r["ocid"] in ocids]
        if mine:
            pages.append({**page, "releases": mine})
    assert sorted({r["ocid"] for page in pages for r in page["releases"]}) == list(ocids)
    return records, pages


async def providers(pool: Pool) -> int:
    async with pool.acquire() as conn:
        found: int = await conn.fetchval("SELECT count(*) FROM providers")
    return found


async def directory_complete(ppool: Pool, directory: Pool) -> None:
    """Once the contracts service's provider directory holds every provider the providers
    service has (its suppliers' names and identifiers are exported from there)."""
    expected = await providers(ppool)
    await eventually(
        lambda: equals(directory_size(directory), expected),
        what=f"the directory's {expected} providers",
    )


def compiled(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [record["compiledRelease"] for package in records for record in package["records"]]


async def test_every_sample_exports_valid_ocds_that_another_installation_exports_alike(
    capi: Api,
    elsewhere: Elsewhere,
    provider_events: Consumer,
    js: JetStreamContext,
    cpool: Pool,
    ppool: Pool,
    schemas: OcdsSchemas,
    report: Callable[[str], None],
) -> None:
    """One pair of installations for every sample, in turn (a pair each cost a minute more of
    every make test): each file's processes are its own, or a process an earlier file began
    (Paraguay's tender and contract releases)."""
    # The second installation's own provider directory, filled from the providers' events.
    spec = provider_directory_consumer()
    directory = Consumer(
        dataclasses.replace(spec, name=f"{spec.name}_elsewhere"), pool=elsewhere.pool, js=js
    )
    there: set[tuple[str, str]] = set()  # the releases the second installation has
    async with running(directory):
        for name in sorted(samples()):
            report(await _round_trip(name, capi, elsewhere, cpool, ppool, schemas, there))


async def _round_trip(
    name: str,
    capi: Api,
    elsewhere: Elsewhere,
    cpool: Pool,
    ppool: Pool,
    schemas: OcdsSchemas,
    there: set[tuple[str, str]],
) -> str:
    """The sample ``name`` there and back; its line for the closing note."""
    read = await import_into(capi, samples()[name].read_bytes(), name)
    ocids = sorted({p["ocid"] for p in read["processes"]})
    assert ocids, (name, read["problems"])
    assert read["schemaErrors"] == RECORDED[name][1], name  # as the data's README records
    await directory_complete(ppool, cpool)
    records, pages = await exported(capi, ocids)
    errors = export_errors(schemas, records, pages)
    assert errors == [], name

    capi.clock.advance(timedelta(days=1))  # imported the day after the export
    # Every release of the pages not there yet is new there, and those of the records are
    # the same ones: none is refused, none raises a problem.
    for page in pages:
        new = [(r["ocid"], r["id"]) for r in page["releases"] if (r["ocid"], r["id"]) not in there]
        again = await import_into(elsewhere.api, page, f"{name} release page")
        said = (again["imported"], again["schemaErrors"], again["problems"])
        assert said == (len(new), 0, []), (name, again)
        there.update(new)
    for package in records:
        again = await import_into(elsewhere.api, package, f"{name} record")
        said = (again["imported"], again["schemaErrors"], again["problems"])
        assert said == (0, 0, []), (name, again)
    await directory_complete(ppool, elsewhere.pool)
    records_there, pages_there = await exported(elsewhere.api, ocids)
    assert export_errors(schemas, records_there, pages_there) == [], name

    ours, theirs = compiled(records), compiled(records_there)
    fields, objects = facts(ours)
    assert facts(theirs)[1] == objects, name
    found = differences(ours, theirs)
    kinds = {line.rsplit(" (", 1)[0] for line in counted(found)}
    assert kinds <= KINDS_DOCUMENTED, "\n".join([name, *counted(found), *map(str, found)])
    return (
        f"{name}: {read['releasesRead']} releases read, {read['imported']} imported, "
        f"{read['schemaErrors']} source schema errors, {len(read['problems'])} problem lines; "
        f"export {len(errors)} schema errors; round trip: {sum(objects.values())} objects, "
        f"{len(fields)} fields compared, {len(found)} documented differences"
    )
