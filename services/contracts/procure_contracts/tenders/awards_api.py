"""``/v1/awards``: every award of the buyer, and cancelling one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from procure_contracts.api.common import (
    MOVE,
    WRITE,
    AsOf,
    ValueMax,
    ValueMin,
    after,
    as_of,
    aware,
    page_key,
    who,
)
from procure_contracts.api.schemas import ReasonIn
from procure_contracts.tenders import awards_usecases as awards
from procure_contracts.tenders import store
from procure_contracts.tenders.awards_rules import Award, AwardStatus
from procure_contracts.tenders.schemas import AwardPage
from procure_shared.db.audit import AuditEntry, history
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.domain import now, tagged
from procure_shared.http.pagination import Cursor, Limit, next_cursor
from procure_shared.http.preconditions import IfMatch, expected_version

__all__ = ["AwardsController"]

AwardId = FromPath[uuid.UUID]


class AwardsController(Controller):
    path = "/v1/awards"
    tags = ["awards"]
    opt = requires(Role.VIEWER)

    @get(responses=problem_responses(400, 401, 403), summary="List awards")
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        tender: FromQuery[uuid.UUID | None] = None,
        lot: FromQuery[uuid.UUID | None] = None,
        provider: Annotated[
            uuid.UUID | None, QueryParameter(description="Awarded to this provider")
        ] = None,
        status: FromQuery[AwardStatus | None] = None,
        value_min: ValueMin = None,
        value_max: ValueMax = None,
        decided_from: Annotated[datetime | None, QueryParameter(name="decidedFrom")] = None,
        decided_to: Annotated[datetime | None, QueryParameter(name="decidedTo")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AwardPage:
        found = await store.list_awards(
            db,
            store.AwardFilter(
                buyer=who(request).scope,
                after=after(cursor),
                limit=limit,
                status=status,
                value_min=value_min,
                value_max=value_max,
                tender_id=str(tender) if tender else None,
                lot_id=str(lot) if lot else None,
                provider_id=str(provider) if provider else None,
                decided_from=decided_from,
                decided_to=decided_to,
                now=now(request),
            ),
        )
        return AwardPage(items=found, next_cursor=next_cursor(found, limit, page_key))

    @get("/{award_id:uuid}", responses=problem_responses(400, 401, 403, 404))
    async def read(
        self,
        award_id: AwardId,
        db: Reading,
        request: Request[Any, Any, Any],
        as_of_: AsOf = None,
    ) -> Response[Award]:
        award = await awards.get_award(db, str(award_id), who=who(request), now=now(request))
        if as_of_ is not None:
            award = (await as_of(db, "award", award, as_of_, Award)).seen_at(aware(as_of_))
        return tagged(award)

    @post(
        "/{award_id:uuid}/cancel",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Cancel an award, with the reason (If-Match)",
        description="Refused (409) while a pending or active contract rests on it. A lot left "
        "with no live award is open again.",
    )
    async def cancel(
        self,
        award_id: AwardId,
        data: JSONBody[ReasonIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Award]:
        award = await awards.cancel_award(
            conn,
            str(award_id),
            data.reason,
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(award)

    @get(
        "/{award_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of an award",
    )
    async def history(
        self, award_id: AwardId, db: Reading, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        award = await awards.get_award(db, str(award_id), who=who(request), now=now(request))
        return list(await history(db, "award", award.id))
