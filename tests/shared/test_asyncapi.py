import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from procure_shared.events import CATALOGUE, Catalogue
from procure_shared.events.asyncapi import asyncapi_document
from procure_shared.version import VERSION

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests/data/asyncapi/asyncapi-3.0.0-schema.json"


class MilestoneOverdue(msgspec.Struct, rename="camel"):
    milestone_id: str
    contract_id: str
    due_date: str
    days_overdue: int


class MoneyValue(msgspec.Struct):
    amount: str
    currency: str


class AwardMade(msgspec.Struct, rename="camel"):
    award_id: str
    provider_ids: list[str]
    value: MoneyValue


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def sample_catalogue() -> Catalogue:
    catalogue = Catalogue()
    catalogue.register("contracts.milestone.overdue", MilestoneOverdue, "A milestone is overdue.")
    catalogue.register("contracts.award.made", AwardMade, "A lot was awarded to a provider.")
    catalogue.register("contracts.award.made", AwardMade, "Version 2 of the award.", version=2)
    return catalogue


def test_the_generated_document_is_valid_asyncapi_3(validator: Any) -> None:
    document = asyncapi_document(sample_catalogue(), version="1.0.0")
    errors = sorted(validator.iter_errors(document), key=str)
    assert errors == []
    assert document["channels"]["contracts_award_made_v2"]["address"] == "contracts.award.made"
    payload = document["components"]["messages"]["contracts_milestone_overdue"]["payload"]
    assert payload["properties"]["data"] == {"$ref": "#/components/schemas/MilestoneOverdue"}
    assert "MoneyValue" in document["components"]["schemas"]


def test_an_invalid_document_is_caught_by_the_same_validation(validator: Any) -> None:
    document = asyncapi_document(sample_catalogue(), version="1.0.0")
    document["operations"]["publish_contracts_award_made"]["action"] = "broadcast"
    assert list(validator.iter_errors(document))


def test_the_committed_event_reference_is_what_the_catalogue_generates() -> None:
    committed = json.loads((ROOT / "docs/events/asyncapi.json").read_text())
    assert committed == asyncapi_document(CATALOGUE, version=VERSION), (
        "docs/events/asyncapi.json is stale: run `make docs`"
    )
