"""What the contracts controllers share: who acts and for which buyer, the service's rules
and its eligibility check, reads as of a past time, and the HTTP constants every feature's
controllers use (who may write, the problems a transition answers, search and paging)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.params import QueryParameter

from procure_contracts.clients.providers_rpc import eligibility_over_nats
from procure_contracts.usecases.context import AskEligibility, Rules, Who
from procure_shared.db.audit import state_at
from procure_shared.db.documents import Documents, Raw, RawPage
from procure_shared.db.postgres import Queries
from procure_shared.errors import NotFound
from procure_shared.http import Role, problem_responses, requires
from procure_shared.http.domain import RouteConstant, principal, tagged
from procure_shared.http.pagination import created_key, encode_cursor, keyset_after
from procure_shared.http.preconditions import etag
from procure_shared.service import Runtime

__all__ = [
    "MOVE",
    "RULES",
    "WRITE",
    "AsOf",
    "Search",
    "ValueMax",
    "ValueMin",
    "after",
    "as_of",
    "ask",
    "page_key",
    "read_document",
    "rules",
    "who",
]

S = TypeVar("S", bound=msgspec.Struct)

# Who may change things, and the problems a change of state may answer.
WRITE = requires(Role.COMMERCIAL)
MOVE = problem_responses(400, 401, 403, 404, 409, 412, 422, 428)

Search = Annotated[
    str | None,
    QueryParameter(
        description="Words of the title or description", max_length=200, pattern=r"^[^\x00]*$"
    ),
]
ValueMin = Annotated[Decimal | None, QueryParameter(name="valueMin", description="At least")]
ValueMax = Annotated[Decimal | None, QueryParameter(name="valueMax", description="At most")]

# Keyset paging: the row after a cursor, and a row's key (its creation time and id).
after = keyset_after
page_key = created_key

AsOf = Annotated[
    datetime | None,
    QueryParameter(
        name="asOf",
        description="Read the resource as it was at this time (ISO 8601 with a timezone).",
    ),
]


def who(request: Request[Any, Any, Any]) -> Who:
    user = principal(request)
    return Who(actor=user.as_actor(), scope=None if user.is_admin else user.buyer)


RULES = RouteConstant[Rules]("contracts_rules")


def rules(request: Request[Any, Any, Any]) -> Rules:
    return RULES.of(request)


def ask(request: Request[Any, Any, Any]) -> AskEligibility:
    """The eligibility check over the service's NATS connection."""
    runtime: Runtime = request.app.state.runtime
    return eligibility_over_nats(runtime.nats, rules(request).eligibility_timeout)


async def as_of(conn: Queries, resource_type: str, current: S, at: datetime, kind: type[S]) -> S:
    """``current`` (already found and visible) as it was at ``at`` (UTC if it names no
    offset)."""
    at = aware(at)
    resource_id: str = getattr(current, "id")  # noqa: B009 - every resource has an id
    text = await state_at(conn, resource_type, resource_id, at)
    if text is None:
        raise NotFound(f"{resource_type} {resource_id} did not exist at {at.isoformat()}")
    return msgspec.json.decode(text, type=kind)


def aware(at: datetime) -> datetime:
    """A query's time with no offset is read as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def read_document(
    db: Queries,
    request: Request[Any, Any, Any],
    table: Documents[S],
    id: object,
    at: datetime | None,
    *,
    what: str,
    resource_type: str,
) -> Response[Any]:
    """A GET of an aggregate the viewer's buyer may see: the document as stored, with its ETag,
    or, with ``?asOf=``, as it was at that time."""
    scope = who(request).scope
    if at is None:
        return document(await table.raw(db, str(id), buyer=scope), what, id)
    current = await table.get(db, str(id), buyer=scope)
    if current is None:
        raise NotFound(f"no {what} {id}")
    return tagged(await as_of(db, resource_type, current, at, table.kind))


def document(raw: Raw | None, what: str, id: object) -> Response[Any]:
    """A stored document as it is (the bytes PostgreSQL gives), with its ETag."""
    if raw is None:
        raise NotFound(f"no {what} {id}")
    return Response(
        raw.doc.encode(), media_type="application/json", headers={"ETag": etag(raw.version)}
    )


def page_of(page: RawPage) -> Response[Any]:
    """``{"items": [...], "nextCursor": ...}`` around the JSON array PostgreSQL built."""
    cursor = encode_cursor([page.last[0], str(page.last[1])]) if page.last else None
    body = b'{"items":' + page.items.encode() + b',"nextCursor":' + msgspec.json.encode(cursor)
    return Response(body + b"}", media_type="application/json")
