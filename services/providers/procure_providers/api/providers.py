"""``/v1/providers``: the registry, and what hangs off each provider."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from msgspec import Meta

from procure_providers.api.buyers import who
from procure_providers.api.schemas import (
    AccreditationIn,
    AccreditationList,
    ExclusionIn,
    ExclusionList,
    ProviderIn,
    ProviderPage,
    ProviderPatch,
)
from procure_providers.domain.accreditations import Accreditation
from procure_providers.domain.exclusions import Exclusion
from procure_providers.domain.identifiers import (
    OCDS_PARTY_MAX,
    SCHEME_MAX,
    Identifier,
    parse_identifier,
)
from procure_providers.domain.portfolio import Portfolio
from procure_providers.domain.providers import (
    SINGLE_LINE,
    Provider,
    ProviderKind,
    ProviderStatus,
    Region,
)
from procure_providers.storage.providers import ProviderFilter, list_providers
from procure_providers.usecases import accreditations, exclusions, providers, track_record
from procure_providers.usecases.history import history_of
from procure_shared.categories import Category
from procure_shared.db.audit import AuditEntry
from procure_shared.errors import RuleBroken
from procure_shared.http import (
    FieldError,
    ProblemException,
    Role,
    Transaction,
    problem_responses,
    requires,
)
from procure_shared.http.domain import actor, create_once, now, tagged
from procure_shared.http.pagination import Cursor, Limit, decode_cursor, next_cursor
from procure_shared.http.preconditions import (
    IdempotencyKey,
    IfMatch,
    expected_version,
)

__all__ = ["ProvidersController"]

MAX_IDENTIFIERS = 100

ProviderId = FromPath[uuid.UUID]
# the longest scheme kept, ":", the longest id (OCDS-PARTY's)
_IDENTIFIER_MAX = SCHEME_MAX + 1 + OCDS_PARTY_MAX


# A page's sort key, (legal name, id): a cursor holding anything else is 400, not a query.
_CursorKey = tuple[Annotated[str, Meta(max_length=300, pattern=SINGLE_LINE)], uuid.UUID]


def _identifiers(texts: list[str]) -> list[Identifier]:
    """Each ``scheme:id`` normalised; 400 naming the first that is not one (Litestar refuses
    more than ``MAX_IDENTIFIERS``)."""
    named = []
    for text in texts:
        scheme, _, value = text.partition(":")
        try:
            if len(text) > _IDENTIFIER_MAX or not re.fullmatch(SINGLE_LINE, text):
                raise RuleBroken(f"identifier {text[:80]!r} is too long or not one line")
            named.append(parse_identifier(scheme, value))
        except RuleBroken as exc:
            raise ProblemException(
                400,
                exc.message,
                title="Invalid request",
                errors=[FieldError(field="identifier", message="scheme:id, e.g. GB-CHC:216250")],
            ) from None
    return named


class ProvidersController(Controller):
    path = "/v1/providers"
    tags = ["providers"]
    opt = requires(Role.VIEWER)

    @get(responses=problem_responses(400, 401, 403), summary="List and search providers")
    async def index(
        self,
        conn: Transaction,
        request: Request[Any, Any, Any],
        q: Annotated[
            str | None,
            QueryParameter(description="Words of the name", max_length=200, pattern=SINGLE_LINE),
        ] = None,
        kind: FromQuery[ProviderKind | None] = None,
        status: FromQuery[ProviderStatus | None] = None,
        region: FromQuery[Region | None] = None,
        sme: FromQuery[bool | None] = None,
        vcse: FromQuery[bool | None] = None,
        identifier: Annotated[
            list[str] | None,
            QueryParameter(
                description="The providers holding these identifiers, each as scheme:id (e.g. "
                "GB-CHC:216250, UA-EDR:02070884 or OCDS-PARTY:<ocid>/<party id>), normalised "
                f"as registration normalises them; repeat it for up to {MAX_IDENTIFIERS} "
                "(one question for many, as an OCDS import asks)",
                max_items=MAX_IDENTIFIERS,
            ),
        ] = None,
        category: Annotated[
            Category | None, QueryParameter(description="Accredited in this category (on `on`)")
        ] = None,
        on: Annotated[date | None, QueryParameter(description="The day for `category`")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ProviderPage:
        after: tuple[str, uuid.UUID] | None = (
            decode_cursor(cursor, 2, _CursorKey) if cursor else None
        )
        named = _identifiers(identifier or [])
        found = await list_providers(
            conn,
            ProviderFilter(
                after=(after[0], str(after[1])) if after else None,
                search=q.strip() or None if q else None,
                kind=kind,
                status=status,
                region=region,
                sme=sme,
                vcse=vcse,
                identifiers=named,
                accredited_for=category.value if category else None,
                accredited_on=(on or now(request).date()) if category else None,
                limit=limit,
            ),
        )
        return ProviderPage(
            items=found, next_cursor=next_cursor(found, limit, lambda p: [p.legal_name, p.id])
        )

    @post(
        opt=requires(Role.COMMERCIAL),
        status_code=201,
        responses=problem_responses(400, 401, 403, 409, 422),
        summary="Register a provider",
        description="An identifier belongs to one provider only: a second registration with it "
        "is refused (409) naming the provider that holds it.",
    )
    async def register(
        self,
        data: JSONBody[ProviderIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Provider]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: providers.register_provider(
                conn, data.draft(), actor=actor(request), now=at
            ),
            lambda p: f"{self.path}/{p.id}",
        )

    @get("/{provider_id:uuid}", responses=problem_responses(401, 403, 404))
    async def read(self, provider_id: ProviderId, conn: Transaction) -> Response[Provider]:
        return tagged(await providers.get_provider(conn, str(provider_id)))

    @patch(
        "/{provider_id:uuid}",
        opt=requires(Role.COMMERCIAL),
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 428),
        summary="Change a provider (If-Match)",
    )
    async def update(
        self,
        provider_id: ProviderId,
        data: JSONBody[ProviderPatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Provider]:
        provider = await providers.update_provider(
            conn,
            str(provider_id),
            data.changes(),
            expected_version=expected_version(if_match),
            actor=actor(request),
            now=now(request),
        )
        return tagged(provider)

    @get(
        "/{provider_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of a provider",
        description="An entry made by another buyer's user names its actor as `another buyer`, "
        "with no roles, buyer or correlation id (admin sees every entry as it is).",
    )
    async def history(
        self, provider_id: ProviderId, conn: Transaction, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        provider = await providers.get_provider(conn, str(provider_id))
        return await history_of(conn, "provider", provider.id, who(request))

    @get(
        "/{provider_id:uuid}/accreditations",
        responses=problem_responses(401, 403, 404),
        summary="A provider's accreditations",
    )
    async def accreditations(
        self,
        provider_id: ProviderId,
        conn: Transaction,
        category: FromQuery[Category | None] = None,
    ) -> AccreditationList:
        items = await accreditations.list_accreditations(conn, str(provider_id), category)
        return AccreditationList(items=items)

    @post(
        "/{provider_id:uuid}/accreditations",
        opt=requires(Role.COMMERCIAL),
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Accredit a provider in a category",
    )
    async def accredit(
        self,
        provider_id: ProviderId,
        data: JSONBody[AccreditationIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Accreditation]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: accreditations.grant_accreditation(
                conn, str(provider_id), data.draft(), actor=actor(request), now=at
            ),
            lambda a: f"/v1/accreditations/{a.id}",
        )

    @get(
        "/{provider_id:uuid}/exclusions",
        responses=problem_responses(401, 403, 404),
        summary="A provider's exclusions (debarment), lifted ones included",
    )
    async def exclusions(self, provider_id: ProviderId, conn: Transaction) -> ExclusionList:
        return ExclusionList(items=await exclusions.list_exclusions(conn, str(provider_id)))

    @post(
        "/{provider_id:uuid}/exclusions",
        opt=requires(Role.ADMIN),
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Exclude (debar) a provider for a period (admin)",
    )
    async def exclude(
        self,
        provider_id: ProviderId,
        data: JSONBody[ExclusionIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Exclusion]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: exclusions.record_exclusion(
                conn, str(provider_id), data.draft(), actor=actor(request), now=at
            ),
            lambda e: f"/v1/exclusions/{e.id}",
        )

    @get(
        "/{provider_id:uuid}/portfolio",
        responses=problem_responses(401, 403, 404),
        summary="A provider's track record",
        description="Awards won, contracts held and their current value, milestones met on "
        "time, late or missed, and the latest KPI ratings, from the contracts service's events. "
        "The caller's buyer's business with the provider in full (`buyerId` names it); the "
        "other buyers' only as anonymous totals (`otherBuyers`: counts, values per currency, "
        "ratings counted; no ids, titles, KPI names or buyers). An admin sees every buyer's in "
        "full (`buyerId` null, `otherBuyers` all zero).",
    )
    async def portfolio(
        self, provider_id: ProviderId, conn: Transaction, request: Request[Any, Any, Any]
    ) -> Portfolio:
        return await track_record.portfolio(conn, str(provider_id), who(request))
