"""``/v1/ocds``: our data in the Open Contracting Data Standard. ``/releases`` is a release
package of every change after a cursor (or since a date), in the order the changes committed;
``/records/{ocid}`` a record package with the process's releases and its compiled release."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from procure_contracts.api.common import aware, who
from procure_contracts.ocds import exporting
from procure_contracts.ocds.exporting import Publication
from procure_contracts.ocds.mapping_out import EXTENSIONS, OCDS_VERSION
from procure_contracts.ocds.store import Position
from procure_shared.http import Reading, Role, problem_responses, requires
from procure_shared.http.domain import RouteConstant, now
from procure_shared.http.pagination import Cursor, decode_cursor, encode_cursor

__all__ = ["PUBLICATION", "OcdsController"]

PUBLICATION = RouteConstant[Publication]("contracts_ocds")
_encoder = msgspec.json.Encoder(decimal_format="number")  # OCDS amounts are JSON numbers
JSON = "application/json"
# A releases cursor's key: the transaction id and audit row id of the last change, each read
# as a bigint; neither is negative.
_Key = tuple[
    Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)],
    Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)],
]

ReleaseLimit = Annotated[
    int, QueryParameter(ge=1, le=1000, description="Changes per page (at most 1,000).")
]
Since = Annotated[
    datetime | None,
    QueryParameter(description="Only changes made at or after this time (ISO 8601)."),
]


class Publisher(msgspec.Struct, frozen=True, omit_defaults=True):
    """The organisation that publishes the package: the buyer's, as configured."""

    name: str
    scheme: str | None = None
    uid: str | None = None
    uri: str | None = None


class PackageLinks(msgspec.Struct, frozen=True):
    next: str


class ReleasePackage(msgspec.Struct, frozen=True, rename="camel"):
    """An OCDS 1.1 release package (the releases as the OCDS release schema has them)."""

    uri: str
    version: str
    extensions: list[str]
    published_date: str
    publisher: Publisher
    releases: list[dict[str, Any]]
    links: PackageLinks
    license: str | None = None
    publication_policy: str | None = None


class RecordPackage(msgspec.Struct, frozen=True, rename="camel"):
    """An OCDS 1.1 record package: one record, its releases and compiled release."""

    uri: str
    version: str
    extensions: list[str]
    published_date: str
    publisher: Publisher
    records: list[dict[str, Any]]
    license: str | None = None
    publication_policy: str | None = None


def _encoded(package: dict[str, Any]) -> Any:
    """The package as JSON with amounts as numbers (the annotation documents its shape)."""
    return cast(Any, _encoder.encode(package))


def _package(
    request: Request[Any, Any, Any], publication: Publication, buyer: str | None
) -> dict[str, Any]:
    """A package's metadata; ``buyer``: whose data it holds (None: several buyers')."""
    return {
        "uri": str(request.url),
        "version": OCDS_VERSION,
        "extensions": list(EXTENSIONS),
        "publishedDate": now(request).isoformat().replace("+00:00", "Z"),
        **publication.metadata(buyer),
    }


class OcdsController(Controller):
    path = "/v1/ocds"
    tags = ["ocds"]
    opt = requires(Role.VIEWER)

    @get(
        "/releases",
        responses={
            204: ResponseSpec(
                data_container=None,
                description="No release on this page (nothing new yet, or changes OCDS does "
                "not publish): no body, since an OCDS release package holds at least one "
                'release. `Link: <...>; rel="next"` is the next page, the same one when '
                "nothing new has come.",
            ),
            **problem_responses(400, 401, 403),
        },
        summary="A release package of every change after a cursor",
        description="Each change to a tender, lot, award, contract, milestone or KPI of the "
        "caller's buyer (every buyer's for admin) is a release of its contracting process "
        "(OCDS 1.1.5 with the lots and metrics extensions; `docs/ocds.md` has the mapping), "
        "tagged by what happened (`tender`, `tenderUpdate`, `award`, `contract`, "
        "`contractAmendment`, `implementation`, ...). Releases come in the order their changes "
        "committed: a change that commits late is never skipped (one still being made holds "
        "the page back until it commits). `links.next` is the next page; it is always given, "
        "and the last page's is where to poll for what comes next. A page with no release "
        "answers 204 with the next page in a `Link` header: an OCDS package is never empty.",
    )
    async def releases(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        cursor: Cursor = None,
        since: Since = None,
        limit: ReleaseLimit = 100,
    ) -> Response[ReleasePackage]:
        publication = PUBLICATION.of(request)
        position = None
        if cursor is not None:
            txid, id = decode_cursor(cursor, 2, _Key)
            position = Position(txid, id)
        releases, last = await exporting.releases_after(
            db,
            who(request),
            position,
            since=aware(since) if since is not None else None,
            limit=limit,
            publication=publication,
        )
        end = last or Position(0, 0)
        query = {**dict(request.query_params), "cursor": encode_cursor([end.txid, end.id])}
        following = str(request.url.with_replacements(query=urlencode(query)))
        if not releases:
            link = {"Link": f'<{following}>; rel="next"'}
            return Response(cast(Any, None), status_code=204, headers=link)
        package = _package(request, publication, who(request).scope)
        package["releases"] = releases
        package["links"] = {"next": following}
        return Response(_encoded(package), media_type=JSON)

    @get(
        "/records/{ocid:str}",
        responses=problem_responses(401, 403, 404, 503),
        summary="A record package: a process's releases and its compiled release",
        description="The contracting process `ocid` (ours: the ocid prefix and the tender's "
        "id; an imported one keeps its publisher's) with every release of it, oldest first, "
        "and the compiled release the OCDS merge rules give.",
    )
    async def record(
        self, db: Reading, request: Request[Any, Any, Any], ocid: FromPath[str]
    ) -> Response[RecordPackage]:
        publication = PUBLICATION.of(request)
        record, buyer = await exporting.record(
            db, who(request), ocid, now=now(request), publication=publication
        )
        package = _package(request, publication, buyer)
        package["records"] = [record]
        return Response(_encoded(package), media_type=JSON)
