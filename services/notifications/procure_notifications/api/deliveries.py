"""``/v1/deliveries``: the delivery log (every attempt with its outcome), and replay."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, Parameter, QueryParameter

from procure_notifications.api.common import viewer
from procure_notifications.api.schemas import DeliveryDetail, DeliveryPage
from procure_notifications.domain.deliveries import Delivery
from procure_notifications.storage import deliveries as delivery_store
from procure_notifications.usecases import deliveries
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.domain import now
from procure_shared.http.pagination import Cursor, Limit, created_key, keyset_after, next_cursor

__all__ = ["DeliveriesController"]

DeliveryId = Annotated[uuid.UUID, Parameter(description="A delivery's id (the webhook-id)")]
Status = Annotated[str | None, QueryParameter(pattern="^(pending|delivered|dead|cancelled)$")]


class DeliveriesController(Controller):
    path = "/v1/deliveries"
    tags = ["deliveries"]
    opt = requires(Role.VIEWER)

    @get(responses=problem_responses(400, 401, 403), summary="Deliveries, newest first")
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        subscription: FromQuery[uuid.UUID | None] = None,
        status: Status = None,
        event_type: Annotated[str | None, QueryParameter(name="eventType")] = None,
        aggregate: Annotated[
            str | None, QueryParameter(description="The event's subject (an aggregate's id)")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> DeliveryPage:
        who = viewer(request)
        items = await delivery_store.page(
            db,
            delivery_store.DeliveryFilter(
                buyer=None if who.admin else who.buyer_id,
                owner=None if who.admin else who.sub,
                subscription=str(subscription) if subscription else None,
                status=status,
                event_type=event_type,
                aggregate=aggregate,
                after=keyset_after(cursor),
                limit=limit,
            ),
        )
        return DeliveryPage(items=items, next_cursor=next_cursor(items, limit, created_key))

    @get("/{delivery_id:uuid}", responses=problem_responses(400, 401, 403, 404))
    async def read(
        self, delivery_id: DeliveryId, db: Reading, request: Request[Any, Any, Any]
    ) -> DeliveryDetail:
        d = await deliveries.delivery(db, str(delivery_id), viewer=viewer(request))
        log = await delivery_store.attempts_of(db, d.id)
        return DeliveryDetail(**msgspec.structs.asdict(d), attempt_log=log)

    @post(
        "/{delivery_id:uuid}/replay",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 422),
        summary="Send a delivery again, now (the same webhook-id: receivers dedupe on it)",
    )
    async def replay(
        self, delivery_id: DeliveryId, conn: Transaction, request: Request[Any, Any, Any]
    ) -> Delivery:
        return await deliveries.replay_one(
            conn, str(delivery_id), viewer=viewer(request), now=now(request)
        )
