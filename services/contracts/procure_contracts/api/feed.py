"""``/v1/feed``: the pull change feed of every event the service published
(``procure_shared.messaging.feed``), for subscribers that cannot take NATS."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter

from procure_shared.http import Reading, Role, problem_responses, requires
from procure_shared.http.domain import principal
from procure_shared.messaging.feed import (
    FEED_DESCRIPTION,
    ChangeFeedPage,
    FeedCursor,
    FeedLimit,
    FeedScope,
    decode_position,
    read_page,
)

__all__ = ["FeedController"]


class FeedController(Controller):
    path = "/v1/feed"
    tags = ["feed"]
    opt = requires(Role.VIEWER)

    @get(
        responses=problem_responses(400, 401, 403),
        summary="The change feed: every event, oldest first, never one skipped",
        description=FEED_DESCRIPTION,
    )
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        cursor: FeedCursor = None,
        limit: FeedLimit = 100,
        buyer: Annotated[
            str | None,
            QueryParameter(
                description="Admin only: this buyer's events (and no shared ones); ignored "
                "for others, who see their own buyer's",
                max_length=200,
            ),
        ] = None,
    ) -> Response[ChangeFeedPage]:
        after = decode_position(cursor)
        user = principal(request)
        if user.is_admin:
            scope = FeedScope(buyer=buyer or None, shared=not buyer)
        else:
            scope = FeedScope(buyer=user.buyer, shared=True)
        body = await read_page(db, after, limit, scope)
        page: Response[Any] = Response(body, media_type="application/json")
        return page
