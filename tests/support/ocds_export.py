"""What the OCDS export tests share (issue 24): the contracts service's import and export over
HTTP, and the export checked twice, each release and compiled release by the project's
validator, and the whole package by plain ``jsonschema`` Draft 4 on the package schema, its
releases checked against the release schema with the package's declared extensions patched in
here (apart from the project's merge patch, which is what is being checked)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

import httpx
import msgspec
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.settings import ContractsOptions, OcdsPublisher
from procure_shared.http import Role
from tests.contracts.conftest import Api
from tests.support.ocds import BUYER_NAMES, SCHEMAS

__all__ = [
    "DECLARED",
    "DFE",
    "LICENSE",
    "POLICY",
    "import_into",
    "package_errors",
    "publishing",
    "record_package",
    "release_errors",
    "release_packages",
    "valid_record_package",
]

RELEASE_SCHEMA_URL = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"
VERSIONED_SCHEMA_URL = (
    "https://standard.open-contracting.org/schema/1__1__5/versioned-release-validation-schema.json"
)
# The extension release schemas we ship, by the URL a package names the extension by. A package
# declaring any other extension fails here: its schema would not be checked.
DECLARED = {
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/"
    "v1.1.5/extension.json": "lots/release-schema-v1.1.5.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_metrics_extension/"
    "09325d191eb6be767b95effa0b280925b2bf47c3/extension.json": "metrics/release-schema.json",
}
DFE = OcdsPublisher(
    name="Department for Education",
    scheme="GB-GOR",
    uid="D6",
    uri="https://www.gov.uk/government/organisations/department-for-education",
)
LICENSE = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
POLICY = "https://example.gov.uk/ocds/publication-policy"


def publishing(providers_api: str) -> ContractsOptions:
    """The contracts service publishing for the buyer ``dfe`` under its own name, with a licence
    and a publication policy, its suppliers found or registered in the providers service."""
    return ContractsOptions(
        eligibility_timeout=1.0,
        providers_url=providers_api,
        buyer_names=BUYER_NAMES,
        ocds_publisher="Procure operations",
        ocds_publishers={"dfe": DFE},
        ocds_license=LICENSE,
        ocds_publication_policy=POLICY,
    )


# --- the checks ---------------------------------------------------------------------------


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, written here apart from the project's, which is what is being checked."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


@cache
def _package_validator(kind: str, extensions: tuple[str, ...]) -> Draft4Validator:
    """Plain Draft 4 on the package schema ``kind``, whose releases are checked against the
    1.1.5 release schema with ``extensions`` (as the package names them) patched in."""
    release = _read(SCHEMAS / "1.1.5" / "release-schema.json")
    for url in extensions:
        release = _merge_patch(release, _read(SCHEMAS / "extensions" / DECLARED[url]))
    registry: Registry[Any] = Registry().with_resources(
        [
            (RELEASE_SCHEMA_URL, Resource.from_contents(release, default_specification=DRAFT4)),
            (
                VERSIONED_SCHEMA_URL,
                Resource.from_contents(
                    _read(SCHEMAS / "1.1.5" / "versioned-release-validation-schema.json"),
                    default_specification=DRAFT4,
                ),
            ),
        ]
    )
    return Draft4Validator(_read(SCHEMAS / "1.1.5" / f"{kind}-schema.json"), registry=registry)


def package_errors(kind: str, package: Mapping[str, Any]) -> list[str]:
    """Plain Draft 4's errors in a ``record-package`` or ``release-package``."""
    validator = _package_validator(kind, tuple(package.get("extensions", ())))
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(package)
    ]


def release_errors(schemas: OcdsSchemas, release: Any) -> list[str]:
    """The project's validator's errors in a release or compiled release."""
    return [f"{e.path}: {e.message[:200]}" for e in schemas.release_errors(release)]


def valid_record_package(schemas: OcdsSchemas, package: Mapping[str, Any]) -> dict[str, Any]:
    """The package's one record, once it and its releases are found valid both ways."""
    assert package_errors("record-package", package) == []
    (record,) = package["records"]
    for release in record["releases"]:
        assert release_errors(schemas, release) == [], release["id"]
    assert release_errors(schemas, record["compiledRelease"]) == [], record["ocid"]
    return cast(dict[str, Any], record)


# --- the API --------------------------------------------------------------------------------


async def import_into(api: Api, body: Any, source: str, buyer: str = "dfe") -> dict[str, Any]:
    """The import report of ``body`` (a document, or its bytes) imported for ``buyer``."""
    content = body if isinstance(body, bytes) else msgspec.json.encode(body)
    answer = await api.http.post(
        "/v1/ocds/import",
        params={"buyer": buyer, "source": source},
        content=content,
        headers=api.headers(Role.ADMIN, buyer=None) | {"Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return cast(dict[str, Any], answer.json())


async def record_package(api: Api, ocid: str, buyer: str | None = "dfe") -> dict[str, Any]:
    role = Role.VIEWER if buyer else Role.ADMIN
    answer = await api.get(f"/v1/ocds/records/{ocid}", role=role, buyer=buyer)
    assert answer.status_code == 200, answer.text
    return cast(dict[str, Any], answer.json())


async def release_packages(api: Api, buyer: str | None = "dfe") -> list[dict[str, Any]]:
    """Every release package, from the start until the next page is the one just read (a page
    with no release is a 204 whose Link header says the next page: a package is never empty)."""
    role = Role.VIEWER if buyer else Role.ADMIN
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        answer = await api.http.get(
            "/v1/ocds/releases", params=params, headers=api.headers(role, buyer)
        )
        if answer.status_code == 204:
            assert answer.content == b""
            following = httpx.URL(answer.links["next"]["url"]).params["cursor"]
            if following == cursor:
                return pages
        else:
            assert answer.status_code == 200, answer.text
            package = answer.json()
            assert package["releases"]
            pages.append(package)
            following = httpx.URL(package["links"]["next"]).params["cursor"]
        cursor = following
