"""OCDS fidelity of the export (issue 24): every package the service serves validates against
OCDS 1.1.5 with the extensions it declares, for our processes and imported ones alike, whatever
the source held. What cannot be said validly stays in our data and out of the release; nothing
is invented. Packages name the buyer's organisation as publisher, with the configured licence
and publication policy, and extensions pinned to a tag or a commit.

Each package is checked twice: each release and compiled release by the project's validator,
and the whole package by plain ``jsonschema`` Draft 4 on the package schema, its releases
checked against the release schema with the package's declared extensions patched in here."""

from __future__ import annotations

import json
import re
from typing import Any, cast

import httpx
import pytest
from procure_tools.ocds.synthetic import releases as synthetic_releases

from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.settings import ContractsOptions, OcdsPublisher, options_from_env
from procure_shared.http import Role
from procure_shared.settings import SettingsError
from tests.contracts.conftest import Api
from tests.support.ocds import SCHEMAS, samples
from tests.support.ocds_export import (
    DECLARED,
    LICENSE,
    POLICY,
    import_into,
    package_errors,
    publishing,
    record_package,
    release_errors,
    release_packages,
    valid_record_package,
)

# An extension pinned: a tag (v1.1.5) or a full commit, never a branch.
PINNED = re.compile(
    r"^https://raw\.githubusercontent\.com/open-contracting-extensions/[a-z_]+/"
    r"(v\d+(\.\d+)*|[0-9a-f]{40})/extension\.json$"
)
SUPPLIER = {
    "id": "GB-COH-09446231",
    "name": "Oak Tutors Ltd",
    "identifier": {"scheme": "GB-COH", "id": "09446231", "legalName": "Oak Tutors Ltd"},
    "roles": ["supplier"],
}


@pytest.fixture
def options(providers_api: str) -> ContractsOptions:
    return publishing(providers_api)


def _release(**sections: Any) -> dict[str, Any]:
    """A small hand-made release of the process ``ocds-213czf-fidelity`` of the buyer."""
    return {
        "ocid": "ocds-213czf-fidelity",
        "id": "ocds-213czf-fidelity-01",
        "date": "2024-03-01T09:00:00Z",
        "tag": ["award", "contract"],
        "initiationType": "tender",
        "parties": [SUPPLIER],
        "tender": {"id": "tender-1", "title": "Tutoring for the North East", "status": "complete"},
        **sections,
    }


def _award(id: str = "award-1", **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "status": "active",
        "date": "2024-02-20T09:00:00Z",
        "value": {"amount": 120000, "currency": "GBP"},
        "suppliers": [{"id": SUPPLIER["id"], "name": SUPPLIER["name"]}],
        **extra,
    }


async def _contracts_of(api: Api, tender_id: str) -> list[dict[str, Any]]:
    answer = await api.get("/v1/contracts", tender=tender_id)
    assert answer.status_code == 200, answer.text
    return cast(list[dict[str, Any]], answer.json()["items"])


# --- every file, and a generated mix --------------------------------------------------------


async def test_every_sample_and_a_generated_mix_imported_then_exported_validates_both_ways(
    capi: Api, schemas: OcdsSchemas
) -> None:
    ocids: set[str] = set()
    for name, path in samples().items():
        report = await import_into(capi, path.read_bytes(), name)
        ocids |= {p["ocid"] for p in report["processes"]}
    mix = list(synthetic_releases(90, suppliers=15))
    package = {
        "uri": "https://example.gov.uk/ocds/mix.json",
        "version": "1.1",
        "publishedDate": "2026-11-23T09:00:00Z",
        "publisher": {"name": "Test"},
        "releases": mix,
    }
    report = await import_into(capi, package, "synthetic")
    generated = {p["ocid"] for p in report["processes"]}
    assert generated == {r["ocid"] for r in mix}
    ocids |= generated
    # And a process of ours, beside the imported ones.
    ours = await capi.tender(lots=2)
    ocids.add(f"ocds-procure-{ours['id']}")

    for ocid in sorted(ocids):
        valid_record_package(schemas, await record_package(capi, ocid))

    pages = await release_packages(capi)
    exported = [r for page in pages for r in page["releases"]]
    for page in pages:
        assert package_errors("release-package", page) == []
    for release in exported:
        assert release_errors(schemas, release) == [], (release["ocid"], release["id"])
    assert {r["ocid"] for r in exported} == ocids


# --- contracts that rest on no award ----------------------------------------------------------


async def test_a_contract_whose_award_id_is_null_is_left_out_of_the_release_and_kept_in_our_data(
    capi: Api, schemas: OcdsSchemas
) -> None:
    release = _release(
        awards=[_award()],
        contracts=[
            {"id": "contract-1", "awardID": "award-1", "status": "active"},
            {"id": "contract-2", "awardID": None, "status": "active", "title": "A modification"},
        ],
    )
    (process,) = (await import_into(capi, release, "null-award"))["processes"]
    record = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    compiled = record["compiledRelease"]
    assert [(c["id"], c["awardID"]) for c in compiled["contracts"]] == [("contract-1", "award-1")]
    assert [c["id"] for r in record["releases"] for c in r.get("contracts", [])] == ["contract-1"]
    kept = {c["imported"]["ocdsId"]: c for c in await _contracts_of(capi, process["tenderId"])}
    assert set(kept) == {"contract-1", "contract-2"}
    assert kept["contract-2"]["awardIds"] == []
    assert kept["contract-2"]["title"] == "A modification"


async def test_a_contract_whose_award_is_unknown_is_left_out_of_the_release(
    capi: Api, schemas: OcdsSchemas
) -> None:
    release = _release(
        awards=[_award()],
        contracts=[
            {"id": "contract-1", "awardID": "award-1", "status": "active"},
            {"id": "contract-9", "awardID": "award-that-is-not-here", "status": "active"},
        ],
    )
    (process,) = (await import_into(capi, release, "dangling-award"))["processes"]
    record = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    award_ids = {a["id"] for a in record["compiledRelease"]["awards"]}
    contracts = record["compiledRelease"]["contracts"]
    assert [c["id"] for c in contracts] == ["contract-1"]
    assert all(c["awardID"] in award_ids for c in contracts)
    kept = {c["imported"]["ocdsId"] for c in await _contracts_of(capi, process["tenderId"])}
    assert kept == {"contract-1", "contract-9"}
    # Nor does the release feed carry it.
    exported = [r for page in await release_packages(capi) for r in page["releases"]]
    assert [c["id"] for r in exported for c in r.get("contracts", [])] == ["contract-1"]


async def test_the_milestones_of_a_contract_left_out_are_left_out_too(
    capi: Api, schemas: OcdsSchemas
) -> None:
    milestone = {
        "id": "m-1",
        "title": "First report",
        "type": "reporting",
        "status": "met",
        "dueDate": "2024-06-30T00:00:00Z",
    }
    release = _release(
        awards=[_award()],
        contracts=[
            {
                "id": "contract-2",
                "awardID": None,
                "status": "active",
                "implementation": {"milestones": [milestone]},
            }
        ],
    )
    (process,) = (await import_into(capi, release, "null-award-milestones"))["processes"]
    (contract,) = await _contracts_of(capi, process["tenderId"])
    milestones = (await capi.get(f"/v1/contracts/{contract['id']}/milestones")).json()["items"]
    assert [m["title"] for m in milestones] == ["First report"]
    record = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    assert "contracts" not in record["compiledRelease"]
    assert all("contracts" not in r for r in record["releases"])


# --- currencies ------------------------------------------------------------------------------


async def test_a_value_in_a_currency_ocds_does_not_know_is_kept_and_left_out_of_the_release(
    capi: Api, schemas: OcdsSchemas
) -> None:
    release = _release(
        tender={
            "id": "tender-1",
            "title": "Tutoring",
            "status": "complete",
            "value": {"amount": 500000, "currency": "QQQ"},
        },
        awards=[_award(value={"amount": 120000, "currency": "QQQ"})],
        contracts=[
            {
                "id": "contract-1",
                "awardID": "award-1",
                "status": "active",
                "value": {"amount": 110000, "currency": "GBP"},
            }
        ],
    )
    (process,) = (await import_into(capi, release, "unknown-currency"))["processes"]
    tender = (await capi.get(f"/v1/tenders/{process['tenderId']}")).json()
    assert tender["value"] == {"amount": "500000.00", "currency": "QQQ"}
    (award,) = (await capi.get("/v1/awards", tender=process["tenderId"])).json()["items"]
    assert award["value"] == {"amount": "120000.00", "currency": "QQQ"}

    record = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    compiled = record["compiledRelease"]
    assert "value" not in compiled["tender"]
    (exported_award,) = compiled["awards"]
    assert "value" not in exported_award
    (contract,) = compiled["contracts"]
    assert contract["value"] == {"amount": 110000, "currency": "GBP"}  # a known one stays
    assert "QQQ" not in json.dumps(record)


async def test_a_tender_of_ours_in_an_unknown_currency_is_published_without_its_value(
    capi: Api, schemas: OcdsSchemas
) -> None:
    made = await capi.made(
        "/v1/tenders",
        {"title": "Mentoring", "value": {"amount": "1000.00", "currency": "QQQ"}},
    )
    assert made["value"] == {"amount": "1000.00", "currency": "QQQ"}
    record = valid_record_package(schemas, await record_package(capi, f"ocds-procure-{made['id']}"))
    assert record["compiledRelease"]["tender"]["title"] == "Mentoring"
    assert "value" not in record["compiledRelease"]["tender"]


# --- lots ----------------------------------------------------------------------------------------


async def test_a_process_its_publisher_gave_no_lots_is_exported_without_a_lot(
    capi: Api, schemas: OcdsSchemas
) -> None:
    release = _release(awards=[_award()], contracts=[{"id": "contract-1", "awardID": "award-1"}])
    (process,) = (await import_into(capi, release, "no-lots"))["processes"]
    # Our data holds one lot for the whole tender (an award here is a lot's) ...
    (lot,) = (await capi.get(f"/v1/tenders/{process['tenderId']}/lots")).json()["items"]
    assert lot["imported"]["ocdsId"] is None
    # ... which the publisher never had, so the export never shows it nor names it.
    record = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    compiled = record["compiledRelease"]
    assert "lots" not in compiled["tender"]
    (award,) = compiled["awards"]
    assert award["id"] == "award-1"
    assert "relatedLots" not in award
    assert lot["id"] not in json.dumps(record)
    exported = [r for page in await release_packages(capi) for r in page["releases"]]
    assert lot["id"] not in json.dumps(exported)


async def test_a_process_with_lots_is_exported_with_exactly_its_publishers_lots(
    capi: Api, schemas: OcdsSchemas
) -> None:
    lots = [
        {"id": "lot-a", "title": "North", "status": "active"},
        {"id": "lot-b", "title": "South", "status": "active"},
    ]
    release = _release(
        tender={"id": "tender-1", "title": "Tutoring", "status": "complete", "lots": lots},
        awards=[_award(relatedLots=["lot-b"])],
        contracts=[{"id": "contract-1", "awardID": "award-1"}],
    )
    (process,) = (await import_into(capi, release, "two-lots"))["processes"]
    record = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    compiled = record["compiledRelease"]
    assert [lot["id"] for lot in compiled["tender"]["lots"]] == ["lot-a", "lot-b"]
    assert compiled["awards"][0]["relatedLots"] == ["lot-b"]


# --- what an import makes to hold the publisher's data -----------------------------------------


async def test_a_transaction_that_names_no_milestone_is_published_without_the_one_made_for_it(
    capi: Api, schemas: OcdsSchemas
) -> None:
    transaction = {
        "id": "payment-1",
        "date": "2024-05-01T00:00:00Z",
        "value": {"amount": 40000, "currency": "GBP"},
        "payer": {"id": "dfe", "name": "Department for Education"},
        "payee": {"id": SUPPLIER["id"], "name": SUPPLIER["name"]},
    }
    release = _release(
        awards=[_award()],
        contracts=[
            {
                "id": "contract-1",
                "awardID": "award-1",
                "implementation": {"transactions": [transaction]},
            }
        ],
    )
    (process,) = (await import_into(capi, release, "transaction-alone"))["processes"]
    (contract,) = await _contracts_of(capi, process["tenderId"])
    # Our data holds the payment on a milestone of its own (a payment here is a milestone's) ...
    (held,) = (await capi.get(f"/v1/contracts/{contract['id']}/milestones")).json()["items"]
    assert held["imported"]["ocdsId"] is None
    assert [t["id"] for t in held["transactions"]] == ["payment-1"]
    # ... which the publisher never had: the transaction is published, that milestone is not.
    record = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    (exported,) = record["compiledRelease"]["contracts"]
    implementation = exported["implementation"]
    assert [t["id"] for t in implementation["transactions"]] == ["payment-1"]
    assert implementation["transactions"][0]["value"] == {"amount": 40000, "currency": "GBP"}
    assert "milestones" not in implementation
    assert held["id"] not in json.dumps(record)


async def test_an_imported_process_is_not_given_a_category_nor_award_titles_it_never_stated(
    capi: Api, schemas: OcdsSchemas
) -> None:
    lots = [{"id": "lot-a", "title": "North"}]
    release = _release(
        tender={"id": "tender-1", "title": "Tutoring", "status": "complete", "lots": lots},
        awards=[_award(relatedLots=["lot-a"])],
    )
    (process,) = (await import_into(capi, release, "no-category"))["processes"]
    imported = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    assert "mainProcurementCategory" not in imported["compiledRelease"]["tender"]
    (award,) = imported["compiledRelease"]["awards"]
    assert award["relatedLots"] == ["lot-a"]
    assert "title" not in award  # not its lot's: the publisher gave the award none
    ours = await capi.tender()
    record = valid_record_package(schemas, await record_package(capi, f"ocds-procure-{ours['id']}"))
    assert record["compiledRelease"]["tender"]["mainProcurementCategory"] == "services"


async def test_the_category_and_award_titles_a_publisher_stated_are_given_back_as_stated(
    capi: Api, schemas: OcdsSchemas
) -> None:
    lots = [{"id": "lot-a", "title": "North"}]
    release = _release(
        tender={
            "id": "tender-1",
            "title": "School building works",
            "status": "complete",
            "mainProcurementCategory": "works",
            "lots": lots,
        },
        awards=[_award(relatedLots=["lot-a"], title="Roofing of three schools")],
    )
    read = await import_into(capi, release, "stated")
    (process,) = read["processes"]
    assert read["problems"] == []
    imported = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    assert imported["compiledRelease"]["tender"]["mainProcurementCategory"] == "works"
    (award,) = imported["compiledRelease"]["awards"]
    assert award["title"] == "Roofing of three schools"


async def test_a_category_outside_the_codelist_is_a_problem_line_and_not_published(
    capi: Api, schemas: OcdsSchemas
) -> None:
    release = _release(
        tender={"id": "tender-1", "title": "Tutoring", "mainProcurementCategory": "tutoring"}
    )
    read = await import_into(capi, release, "odd-category")
    (process,) = read["processes"]
    assert read["problems"] == [
        "ocds-213czf-fidelity: tender mainProcurementCategory 'tutoring' is not an OCDS code: "
        "not kept"
    ]
    imported = valid_record_package(schemas, await record_package(capi, process["ocid"]))
    assert "mainProcurementCategory" not in imported["compiledRelease"]["tender"]


# --- pages ------------------------------------------------------------------------------------


async def _page(api: Api, cursor: str | None) -> tuple[int, str]:
    """A releases page's status and the cursor of the page after it."""
    params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
    answer = await api.http.get(
        "/v1/ocds/releases", params=params, headers=api.headers(Role.VIEWER, "dfe")
    )
    if answer.status_code == 204:
        assert answer.content == b""
        return 204, str(httpx.URL(answer.links["next"]["url"]).params["cursor"])
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["releases"]) == 1
    return 200, str(httpx.URL(answer.json()["links"]["next"]).params["cursor"])


async def test_a_page_without_a_release_is_a_204_naming_the_next_page_never_an_empty_package(
    capi: Api,
) -> None:
    first = await _page(capi, None)
    assert first[0] == 204
    assert await _page(capi, first[1]) == first  # nothing yet: the same page again
    # Changes that publish nothing after one that does.
    await import_into(capi, _release(contracts=[{"id": "c-9", "awardID": None}]), "awardless")
    pages, cursor = [], first[1]
    while True:
        status, following = await _page(capi, cursor)
        pages.append((status, following != cursor))
        if following == cursor:
            break
        cursor = following
    # The tender's release; the lot made for it and the contract publish nothing (204, the
    # cursor moving on); then the end (204, the same page again).
    assert pages == [(200, True), (204, True), (204, True), (204, False)]


# --- package metadata ------------------------------------------------------------------------


async def test_a_buyers_packages_name_its_organisation_as_publisher_with_licence_and_policy(
    capi: Api, schemas: OcdsSchemas
) -> None:
    tender = await capi.tender()
    served = await record_package(capi, f"ocds-procure-{tender['id']}")
    (page, *_) = await release_packages(capi)
    for package in (served, page):
        assert package["publisher"] == {
            "name": "Department for Education",
            "scheme": "GB-GOR",
            "uid": "D6",
            "uri": "https://www.gov.uk/government/organisations/department-for-education",
        }
        assert package["license"] == LICENSE
        assert package["publicationPolicy"] == POLICY
    valid_record_package(schemas, served)
    assert package_errors("release-package", page) == []
    # An admin's package holds several buyers': its publisher is the operator.
    (admin_page, *_) = await release_packages(capi, buyer=None)
    assert admin_page["publisher"] == {"name": "Procure operations"}
    assert admin_page["license"] == LICENSE


async def test_a_buyer_with_no_publisher_configured_publishes_under_its_own_name(
    capi: Api,
) -> None:
    answer = await capi.create("/v1/tenders", {"title": "Clinical audit support"}, buyer="dhsc")
    assert answer.status_code == 201, answer.text
    package = await record_package(capi, f"ocds-procure-{answer.json()['id']}", buyer="dhsc")
    assert package["publisher"] == {"name": "Department of Health and Social Care"}
    assert package_errors("record-package", package) == []


async def test_every_extension_a_package_declares_is_pinned_to_a_tag_or_a_commit(
    capi: Api,
) -> None:
    tender = await capi.tender()
    (page, *_) = await release_packages(capi)
    served = await record_package(capi, f"ocds-procure-{tender['id']}")
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    for package in (page, served):
        assert sorted(package["extensions"]) == sorted(DECLARED)
        for url in package["extensions"]:
            assert PINNED.match(url), url
            # The revision named is the one the shipped extension schema was copied at.
            revision = url.split("/")[-2]
            assert f"`{revision}`" in readme, url


def test_publishers_that_are_not_json_or_not_publishers_stop_the_service_from_starting() -> None:
    good = '{"dfe": {"name": "Department for Education", "scheme": "GB-GOR", "uid": "D6"}}'
    options = options_from_env({"PROCURE_OCDS_PUBLISHERS": good})
    assert options.ocds_publishers == {
        "dfe": OcdsPublisher(name="Department for Education", scheme="GB-GOR", uid="D6")
    }
    for bad, said in (
        ("dfe=Department for Education", "PROCURE_OCDS_PUBLISHERS is not JSON"),
        ('{"dfe": {"title": "DfE"}}', "PROCURE_OCDS_PUBLISHERS"),
        ('{"dfe": {"name": "DfE", "uri": "www.gov.uk"}}', "PROCURE_OCDS_PUBLISHERS"),
    ):
        with pytest.raises(SettingsError, match=said):
            options_from_env({"PROCURE_OCDS_PUBLISHERS": bad})
    with pytest.raises(SettingsError, match="PROCURE_OCDS_LICENSE"):
        options_from_env({"PROCURE_OCDS_LICENSE": "OGL v3"})
