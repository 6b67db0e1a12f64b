"""The consumer that turns the contracts service's events into each provider's track record.

It takes every ``contracts.*`` event, not only the types it applies: the inbox orders each
aggregate's events by sequence, and a filtered subset would leave gaps that never fill.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from procure_providers.storage import track_record as store
from procure_shared.db.postgres import Connection
from procure_shared.events import Envelope, EventSpec
from procure_shared.events import registry as types
from procure_shared.messaging.consumer import ConsumerSpec, Handler

__all__ = ["CONSUMER_NAME", "track_record_consumer"]

CONSUMER_NAME = "providers__track_record"


def _apply(
    spec: EventSpec, write: Callable[[Connection, Any, str | None], Awaitable[None]]
) -> Handler:
    async def handle(conn: Connection, envelope: Envelope) -> None:
        # The row belongs to the event's buyer: a portfolio shows it in full to that buyer only.
        await write(conn, envelope.decode_data(spec.data), envelope.buyerid)

    return handle


HANDLERS: dict[str, Handler] = {
    types.AWARD_MADE.type: _apply(types.AWARD_MADE, store.record_award),
    types.AWARD_CANCELLED.type: _apply(types.AWARD_CANCELLED, store.record_award_cancelled),
    **{
        spec.type: _apply(spec, store.record_contract)
        for spec in (
            types.CONTRACT_CREATED,
            types.CONTRACT_SIGNED,
            types.CONTRACT_AMENDED,
            types.CONTRACT_OPTION_EXERCISED,
        )
    },
    **{
        spec.type: _apply(spec, store.close_contract)
        for spec in (types.CONTRACT_COMPLETED, types.CONTRACT_TERMINATED)
    },
    **{
        spec.type: _apply(spec, store.record_milestone)
        for spec in (types.MILESTONE_MET, types.MILESTONE_NOT_MET, types.MILESTONE_WAIVED)
    },
    types.KPI_RATING_CHANGED.type: _apply(types.KPI_RATING_CHANGED, store.record_rating),
}


def track_record_consumer(*, max_deliver: int = 8, ack_wait: float = 30.0) -> ConsumerSpec:
    return ConsumerSpec(
        name=CONSUMER_NAME,
        stream="CONTRACTS",
        filter_subjects=("contracts.>",),
        handlers=HANDLERS,
        max_deliver=max_deliver,
        ack_wait=ack_wait,
    )
