"""``POST /v1/ocds/import``: one OCDS document (release package, record package, record or
bare release) imported for a buyer the admin names (decision 17)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.params import Body, QueryParameter

from procure_contracts.api.common import who
from procure_contracts.clients.providers_http import ProvidersOverHttp
from procure_contracts.ocds.exporting import Publication
from procure_contracts.ocds.importing import ImportReport, Ocds, import_document
from procure_shared.errors import Unavailable
from procure_shared.http import (
    FieldError,
    ProblemException,
    Role,
    Transaction,
    problem_responses,
    requires,
)
from procure_shared.http.domain import RouteConstant, now

__all__ = ["OCDS_IMPORT", "OcdsImportConfig", "OcdsImportController"]

log = logging.getLogger("procure.contracts.ocds")
# A package of a few thousand releases is a few MB; the service's default limit is 1 MB.
MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class OcdsImportConfig:
    ocds: Ocds  # the schemas and merge rules
    publication: Publication  # how we publish: our own releases are known by it
    providers_url: str | None = None  # PROCURE_PROVIDERS_URL
    buyers: frozenset[str] = frozenset()  # the buyers the service knows (PROCURE_BUYER_NAMES)


OCDS_IMPORT = RouteConstant[OcdsImportConfig]("contracts_ocds_import")

Buyer = Annotated[
    str | None,
    QueryParameter(description="The buyer the imported processes belong to", max_length=200),
]
Source = Annotated[
    str | None,
    QueryParameter(
        description="What the import is called in the imported aggregates' mark (a file's "
        "name, say); default `api`",
        max_length=500,
    ),
]


def _blank(field: str, message: str) -> ProblemException:
    return ProblemException(
        422, message, title="Invalid request", errors=[FieldError(field=field, message=message)]
    )


class OcdsImportController(Controller):
    path = "/v1/ocds"
    tags = ["ocds"]
    opt = requires(Role.ADMIN)

    @post(
        "/import",
        status_code=200,
        request_max_body_size=MAX_BODY,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
        summary="Import one OCDS document (admin)",
        description="A release package, record package, record or bare release, as published: "
        "schema errors and unknown fields are reported, not refused. Releases are stored once "
        "by ocid and id (a second import of one changes nothing; one with other content is a "
        "problem line, not applied); each process the document touches is compiled from all "
        "its stored releases and made or updated as a tender, lots, awards (one per supplier "
        "of each award), contracts, milestones and KPIs (the metrics extension's agreed and "
        "implementation metrics) that keep the publisher's statuses, amounts and written "
        "date-times. The buyer must be one the service knows (`PROCURE_BUYER_NAMES`): another "
        "is 422 and nothing is stored. Suppliers are found, or registered, in the providers "
        "service by identifier. Releases this service published itself (its ocid prefix, or a "
        "process imported for the buyer; the same id and content) change nothing; another "
        "release under its own prefix, or one of those for another buyer, is 422 naming the "
        "ocid, and nothing is stored. The answer is the quality report. The body "
        "(`application/json`, up to 64 MiB) is one OCDS document.",
    )
    async def import_(
        self,
        request: Request[Any, Any, Any],
        conn: Transaction,
        data: Annotated[
            Any,
            Body(
                title="An OCDS document",
                description="A release package, record package, record or release",
            ),
        ],
        buyer: Buyer = None,
        source: Source = None,
    ) -> ImportReport:
        if buyer is None or not buyer.strip():
            raise _blank("buyer", "name the buyer the import is for (?buyer=)")
        config = OCDS_IMPORT.of(request)
        if config.providers_url is None:
            raise Unavailable(
                "OCDS imports need the providers service: set PROCURE_PROVIDERS_URL to its "
                "HTTP address"
            )
        if buyer.strip() not in config.buyers:
            known = ", ".join(sorted(config.buyers)) or "none"
            raise _blank(
                "buyer",
                f"no buyer {buyer.strip()!r} is known here (PROCURE_BUYER_NAMES names the "
                f"buyers: {known})",
            )
        ocds = config.ocds
        async with ProvidersOverHttp.client(
            config.providers_url, request.headers.get("authorization")
        ) as http:
            report = await import_document(
                conn,
                data,
                buyer_id=buyer.strip(),
                source=(source or "").strip() or "api",
                ocds=ocds,
                registry=ProvidersOverHttp(http),
                who=who(request),
                now=now(request),
                publication=config.publication,
            )
        log.info(
            "ocds import %s: %d read, %d imported, %d skipped, %d schema errors",
            report.source,
            report.releases_read,
            report.imported,
            report.skipped,
            report.schema_errors,
        )
        return report
