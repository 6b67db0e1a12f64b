"""``/v1/subscriptions``: a subscriber's alerts, where they go and what they ask for."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, Parameter

from procure_notifications.api.common import options, viewer
from procure_notifications.api.schemas import (
    Replayed,
    SubscriptionIn,
    SubscriptionPage,
    SubscriptionPatch,
    WithSecret,
)
from procure_notifications.domain.subscriptions import Status, Subscription
from procure_notifications.senders.email import Mailer
from procure_notifications.senders.webhook import WebhookSender
from procure_notifications.storage import subscriptions as subscription_store
from procure_notifications.usecases import deliveries as delivering
from procure_notifications.usecases import subscriptions as subs
from procure_notifications.usecases.sending import Channels, Tested, send_test
from procure_shared.clock import SystemClock
from procure_shared.db.audit import AuditEntry, history
from procure_shared.db.documents import Page
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.domain import create_once, now, tagged
from procure_shared.http.pagination import Cursor, Limit, created_key, keyset_after, next_cursor
from procure_shared.http.preconditions import IdempotencyKey, IfMatch, expected_version

__all__ = ["SubscriptionsController"]

SubscriptionId = Annotated[uuid.UUID, Parameter(description="A subscription's id")]
MOVE = problem_responses(400, 401, 403, 404, 409, 412, 428)


class SubscriptionsController(Controller):
    path = "/v1/subscriptions"
    tags = ["subscriptions"]
    # Anyone with a token manages their own subscriptions; an admin every one.
    opt = requires(Role.VIEWER)

    @get(responses=problem_responses(400, 401, 403), summary="Your subscriptions")
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        status: FromQuery[Status | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> SubscriptionPage:
        who = viewer(request)
        page = Page(after=keyset_after(cursor), limit=limit)
        page.add("deleted_at IS NULL")
        if not who.admin:
            page.add("buyer_id IS NOT DISTINCT FROM {}", who.buyer_id)
            page.add("owner_sub = {}", who.sub)
        if status is not None:
            page.add("status = {}", status.value)
        items = await subscription_store.table.page(db, page)
        return SubscriptionPage(items=items, next_cursor=next_cursor(items, limit, created_key))

    @post(
        status_code=201,
        responses=problem_responses(400, 401, 403, 409, 422),
        summary="Subscribe: a webhook or a mailbox, and the events wanted",
        description="A webhook's URL must be https and resolve only to global unicast "
        "addresses; its signing secret (Standard Webhooks, `whsec_...`) is in this response "
        "only. One owner may have `PROCURE_SUBSCRIPTIONS_PER_OWNER` subscriptions (422 past it).",
    )
    async def create(
        self,
        data: JSONBody[SubscriptionIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WithSecret]:
        async def make(at: Any) -> WithSecret:
            made, secret = await subs.create(
                conn,
                data.draft(),
                viewer=viewer(request),
                now=at,
                allow_loopback=options(request).allow_loopback,
                cap=options(request).subscriptions_per_owner,
                box=options(request).secret_box(),
            )
            return WithSecret(**msgspec.structs.asdict(made), secret=secret)

        return await create_once(
            conn, request, idempotency_key, make, lambda s: f"{self.path}/{s.id}"
        )

    @get("/{subscription_id:uuid}", responses=problem_responses(400, 401, 403, 404))
    async def read(
        self, subscription_id: SubscriptionId, db: Reading, request: Request[Any, Any, Any]
    ) -> Response[Subscription]:
        return tagged(await subs.get(db, str(subscription_id), viewer=viewer(request)))

    @patch(
        "/{subscription_id:uuid}",
        responses=problem_responses(400, 401, 403, 404, 412, 422, 428),
        summary="Change a subscription's name, channel or filter (If-Match)",
        description="A channel that becomes a webhook gets a signing secret, shown in this "
        "response only.",
    )
    async def update(
        self,
        subscription_id: SubscriptionId,
        data: JSONBody[SubscriptionPatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[WithSecret]:
        changed, secret = await subs.update(
            conn,
            str(subscription_id),
            data.changes(),
            expected_version=expected_version(if_match),
            viewer=viewer(request),
            now=now(request),
            allow_loopback=options(request).allow_loopback,
            box=options(request).secret_box(),
        )
        return tagged(WithSecret(**msgspec.structs.asdict(changed), secret=secret))

    @delete(
        "/{subscription_id:uuid}",
        status_code=204,
        responses=problem_responses(400, 401, 403, 404, 412, 428),
        summary="Unsubscribe (If-Match): pending deliveries are cancelled, the log stays",
        description="The subscription is hidden (404 from then on) and sends nothing more; "
        "its deliveries and their attempts stay readable under `/v1/deliveries`.",
    )
    async def remove(
        self,
        subscription_id: SubscriptionId,
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> None:
        await subs.delete(
            conn,
            str(subscription_id),
            expected_version=expected_version(if_match),
            viewer=viewer(request),
            now=now(request),
        )

    @post(
        "/{subscription_id:uuid}/pause",
        status_code=200,
        responses=MOVE,
        summary="Pause (If-Match): deliveries wait until it is resumed",
    )
    async def pause(
        self,
        subscription_id: SubscriptionId,
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Subscription]:
        return await self._move(conn, request, subscription_id, "pause", if_match)

    @post(
        "/{subscription_id:uuid}/resume",
        status_code=200,
        responses=MOVE,
        summary="Resume a paused or disabled subscription (If-Match): waiting deliveries go",
    )
    async def resume(
        self,
        subscription_id: SubscriptionId,
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Subscription]:
        return await self._move(conn, request, subscription_id, "resume", if_match)

    async def _move(
        self,
        conn: Any,
        request: Request[Any, Any, Any],
        subscription_id: uuid.UUID,
        verb: str,
        if_match: str | None,
    ) -> Response[Subscription]:
        moved = await subs.move(
            conn,
            str(subscription_id),
            verb,
            expected_version=expected_version(if_match),
            viewer=viewer(request),
            now=now(request),
        )
        return tagged(moved)

    @post(
        "/{subscription_id:uuid}/rotate-secret",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 422),
        summary="A new signing secret (shown once); the previous one signs too for a grace period",
    )
    async def rotate(
        self, subscription_id: SubscriptionId, conn: Transaction, request: Request[Any, Any, Any]
    ) -> Response[WithSecret]:
        s, secret = await subs.rotate_secret(
            conn,
            str(subscription_id),
            viewer=viewer(request),
            now=now(request),
            grace=options(request).secret_grace,
            box=options(request).secret_box(),
        )
        return tagged(WithSecret(**msgspec.structs.asdict(s), secret=secret))

    @post(
        "/{subscription_id:uuid}/dead-letters/replay",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404),
        summary="Send every dead letter of a subscription again (same webhook-id)",
    )
    async def replay_dead_letters(
        self, subscription_id: SubscriptionId, conn: Transaction, request: Request[Any, Any, Any]
    ) -> Replayed:
        n = await delivering.replay_dead_letters(
            conn, str(subscription_id), viewer=viewer(request), now=now(request)
        )
        return Replayed(replayed=n)

    @post(
        "/{subscription_id:uuid}/test",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404),
        summary="Send a sample event to the subscription's channel now, and say what it answered",
        description="The sample is a `notifications.subscription.test` envelope (sequence 0), "
        "signed like any delivery but with a fresh `webhook-id`; it is not recorded, retried "
        "or published. A paused or disabled subscription can be tested too.",
    )
    async def test(
        self, subscription_id: SubscriptionId, db: Reading, request: Request[Any, Any, Any]
    ) -> Tested:
        s = await subs.get(db, str(subscription_id), viewer=viewer(request))
        chosen = options(request)
        secrets = await subscription_store.secrets_of(db, s.id, chosen.secret_box())
        channels = Channels(
            WebhookSender(allow_loopback=chosen.allow_loopback, timeout=chosen.webhook_timeout),
            Mailer(chosen.smtp()),
        )
        try:
            return await send_test(
                s,
                secrets,
                channels,
                now=now(request),
                timestamp=int(SystemClock().now().timestamp()),
            )
        finally:
            await channels.webhooks.close()

    @get(
        "/{subscription_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of a subscription",
    )
    async def history(
        self, subscription_id: SubscriptionId, db: Reading, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        s = await subs.get(db, str(subscription_id), viewer=viewer(request))
        return list(await history(db, "subscription", s.id))
