"""``/v1/tenders``: tenders, their lots, and the awards of a lot."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from procure_contracts.api.common import (
    MOVE,
    WRITE,
    AsOf,
    Search,
    ValueMax,
    ValueMin,
    after,
    as_of,
    ask,
    page_of,
    read_document,
    who,
)
from procure_contracts.api.schemas import ReasonIn
from procure_contracts.tenders import awards_usecases as awards
from procure_contracts.tenders import store
from procure_contracts.tenders import usecases as tenders
from procure_contracts.tenders.rules import Lot, LotStatus, Tender, TenderStatus
from procure_contracts.tenders.schemas import (
    AwardIn,
    AwardList,
    LotIn,
    LotPage,
    LotPatch,
    TenderIn,
    TenderPage,
    TenderPatch,
)
from procure_shared.categories import Category
from procure_shared.db.audit import AuditEntry, history
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.domain import create_once, now, principal, tagged
from procure_shared.http.pagination import Cursor, Limit
from procure_shared.http.preconditions import IdempotencyKey, IfMatch, expected_version, idempotent

__all__ = ["TendersController"]

TenderId = FromPath[uuid.UUID]
LotId = FromPath[uuid.UUID]


class TendersController(Controller):
    path = "/v1/tenders"
    tags = ["tenders"]
    opt = requires(Role.VIEWER)

    @get(responses=problem_responses(400, 401, 403), summary="List and search tenders")
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        q: Search = None,
        status: FromQuery[TenderStatus | None] = None,
        category: Annotated[
            Category | None, QueryParameter(description="Has a lot in this category")
        ] = None,
        value_min: ValueMin = None,
        value_max: ValueMax = None,
        deadline_from: Annotated[datetime | None, QueryParameter(name="deadlineFrom")] = None,
        deadline_to: Annotated[datetime | None, QueryParameter(name="deadlineTo")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[TenderPage]:
        page = store.tender_page(
            store.TenderFilter(
                buyer=who(request).scope,
                after=after(cursor),
                limit=limit,
                search=q.strip() or None if q else None,
                status=status,
                value_min=value_min,
                value_max=value_max,
                category=category,
                deadline_from=deadline_from,
                deadline_to=deadline_to,
            ),
        )
        return page_of(await store.tenders.page_raw(db, page))

    @post(
        opt=WRITE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 409, 422),
        summary="Draft a tender",
    )
    async def draft(
        self,
        data: JSONBody[TenderIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Tender]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: tenders.draft_tender(conn, data.draft(), who=who(request), now=at),
            lambda t: f"{self.path}/{t.id}",
        )

    @get("/{tender_id:uuid}", responses=problem_responses(400, 401, 403, 404))
    async def read(
        self,
        tender_id: TenderId,
        db: Reading,
        request: Request[Any, Any, Any],
        as_of_: AsOf = None,
    ) -> Response[Tender]:
        return await read_document(
            db, request, store.tenders, tender_id, as_of_, what="tender", resource_type="tender"
        )

    @patch(
        "/{tender_id:uuid}",
        opt=WRITE,
        responses=MOVE,
        summary="Change a draft tender (If-Match)",
    )
    async def update(
        self,
        tender_id: TenderId,
        data: JSONBody[TenderPatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Tender]:
        tender = await tenders.update_tender(
            conn,
            str(tender_id),
            data.changes(),
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(tender)

    async def _move(
        self,
        request: Request[Any, Any, Any],
        conn: Transaction,
        tender_id: uuid.UUID,
        move: str,
        if_match: str | None,
        reason: str | None = None,
    ) -> Response[Tender]:
        tender = await tenders.move_tender(
            conn,
            str(tender_id),
            move,
            reason=reason,
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(tender)

    @post(
        "/{tender_id:uuid}/publish",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Publish a draft tender: its tender period opens (If-Match)",
        description="Needs at least one lot and a submission deadline still to come.",
    )
    async def publish(
        self,
        tender_id: TenderId,
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Tender]:
        return await self._move(request, conn, tender_id, "publish", if_match)

    @post(
        "/{tender_id:uuid}/close",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Close a published tender for evaluation, once submissions are in (If-Match)",
    )
    async def close(
        self,
        tender_id: TenderId,
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Tender]:
        return await self._move(request, conn, tender_id, "close", if_match)

    @post(
        "/{tender_id:uuid}/complete",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Complete a tender whose every lot is awarded, cancelled or unsuccessful",
    )
    async def complete(
        self,
        tender_id: TenderId,
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Tender]:
        return await self._move(request, conn, tender_id, "complete", if_match)

    @post(
        "/{tender_id:uuid}/cancel",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Cancel a tender, with the reason; its open lots are cancelled too",
    )
    async def cancel(
        self,
        tender_id: TenderId,
        data: JSONBody[ReasonIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Tender]:
        return await self._move(request, conn, tender_id, "cancel", if_match, data.reason)

    @post(
        "/{tender_id:uuid}/unsuccessful",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="End a tender without award, with the reason; its open lots too",
    )
    async def unsuccessful(
        self,
        tender_id: TenderId,
        data: JSONBody[ReasonIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Tender]:
        return await self._move(request, conn, tender_id, "unsuccessful", if_match, data.reason)

    @get(
        "/{tender_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of a tender",
    )
    async def history(
        self, tender_id: TenderId, db: Reading, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        tender = await tenders.get_tender(db, str(tender_id), who=who(request))
        return list(await history(db, "tender", tender.id))

    @get(
        "/{tender_id:uuid}/lots",
        responses=problem_responses(400, 401, 403, 404),
        summary="The lots of a tender",
    )
    async def lots(
        self,
        tender_id: TenderId,
        db: Reading,
        request: Request[Any, Any, Any],
        q: Search = None,
        status: FromQuery[LotStatus | None] = None,
        category: FromQuery[Category | None] = None,
        value_min: ValueMin = None,
        value_max: ValueMax = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[LotPage]:
        start = after(cursor)  # a bad cursor is 400 whether or not the tender exists
        tender = await tenders.get_tender(db, str(tender_id), who=who(request))
        page = store.lot_page(
            store.LotFilter(
                buyer=who(request).scope,
                tender_id=tender.id,
                after=start,
                limit=limit,
                search=q.strip() or None if q else None,
                status=status,
                category=category,
                value_min=value_min,
                value_max=value_max,
            ),
        )
        return page_of(await store.lots.page_raw(db, page))

    @post(
        "/{tender_id:uuid}/lots",
        opt=WRITE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Add a lot to a draft tender",
    )
    async def add_lot(
        self,
        tender_id: TenderId,
        data: JSONBody[LotIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Lot]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: tenders.add_lot(
                conn, str(tender_id), data.draft(), who=who(request), now=at
            ),
            lambda lot: f"{self.path}/{tender_id}/lots/{lot.id}",
        )

    @get("/{tender_id:uuid}/lots/{lot_id:uuid}", responses=problem_responses(400, 401, 403, 404))
    async def lot(
        self,
        tender_id: TenderId,
        lot_id: LotId,
        db: Reading,
        request: Request[Any, Any, Any],
        as_of_: AsOf = None,
    ) -> Response[Lot]:
        lot = await tenders.get_lot(db, str(tender_id), str(lot_id), who=who(request))
        if as_of_ is not None:
            lot = await as_of(db, "lot", lot, as_of_, Lot)
        return tagged(lot)

    @patch(
        "/{tender_id:uuid}/lots/{lot_id:uuid}",
        opt=WRITE,
        responses=MOVE,
        summary="Change a lot of a draft tender (If-Match)",
    )
    async def update_lot(
        self,
        tender_id: TenderId,
        lot_id: LotId,
        data: JSONBody[LotPatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Lot]:
        lot = await tenders.update_lot(
            conn,
            str(tender_id),
            str(lot_id),
            data.changes(),
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(lot)

    async def _settle(
        self,
        request: Request[Any, Any, Any],
        conn: Transaction,
        tender_id: uuid.UUID,
        lot_id: uuid.UUID,
        move: str,
        data: ReasonIn,
        if_match: str | None,
    ) -> Response[Lot]:
        lot = await tenders.settle_lot(
            conn,
            str(tender_id),
            str(lot_id),
            move,
            data.reason,
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(lot)

    @post(
        "/{tender_id:uuid}/lots/{lot_id:uuid}/cancel",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Cancel a lot, with the reason (If-Match)",
    )
    async def cancel_lot(
        self,
        tender_id: TenderId,
        lot_id: LotId,
        data: JSONBody[ReasonIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Lot]:
        return await self._settle(request, conn, tender_id, lot_id, "cancel", data, if_match)

    @post(
        "/{tender_id:uuid}/lots/{lot_id:uuid}/unsuccessful",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="End a lot without award, with the reason (If-Match)",
    )
    async def lot_unsuccessful(
        self,
        tender_id: TenderId,
        lot_id: LotId,
        data: JSONBody[ReasonIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Lot]:
        return await self._settle(request, conn, tender_id, lot_id, "unsuccessful", data, if_match)

    @get(
        "/{tender_id:uuid}/lots/{lot_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of a lot",
    )
    async def lot_history(
        self,
        tender_id: TenderId,
        lot_id: LotId,
        db: Reading,
        request: Request[Any, Any, Any],
    ) -> list[AuditEntry]:
        lot = await tenders.get_lot(db, str(tender_id), str(lot_id), who=who(request))
        return list(await history(db, "lot", lot.id))

    @post(
        "/{tender_id:uuid}/lots/{lot_id:uuid}/awards",
        opt=WRITE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
        summary="Award a lot to one or more providers",
        description="Each provider must be eligible for the lot's category on the award date: "
        "the providers service is asked over NATS (`rpc.providers.eligibility`). An ineligible "
        "provider is refused (422, with the reasons); a performance warning is kept on the "
        "award; if the providers service does not answer in time, 503 and nothing is written.",
    )
    async def award(
        self,
        tender_id: TenderId,
        lot_id: LotId,
        data: JSONBody[AwardIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AwardList]:
        at = now(request)

        async def make() -> AwardList:
            made = await awards.award_lot(
                conn,
                str(tender_id),
                str(lot_id),
                data.draft(),
                ask=ask(request),
                who=who(request),
                now=at,
            )
            return AwardList(items=[a.seen_at(at) for a in made])

        return await idempotent(
            conn,
            request,
            owner=principal(request).sub,
            key=idempotency_key,
            now=at,
            create=make,
            headers=lambda made: {"Location": f"/v1/awards?lot={lot_id}"},
        )
