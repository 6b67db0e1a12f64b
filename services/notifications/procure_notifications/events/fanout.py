"""The consumers that turn every event into deliveries: one per stream (a JetStream consumer
reads one stream), each taking the whole stream (decision 0005) in per-aggregate order."""

from __future__ import annotations

from procure_notifications.usecases.fanout import fan_out
from procure_shared.db.postgres import Connection
from procure_shared.events.envelope import Envelope
from procure_shared.events.streams import STREAMS
from procure_shared.messaging.consumer import ConsumerSpec

__all__ = ["fanout_consumers"]


async def _fan_out(conn: Connection, envelope: Envelope) -> None:
    await fan_out(conn, envelope)


def fanout_consumers(*, max_deliver: int = 20, ack_wait: float = 30.0) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name=f"notifications__fanout_{stream.name.lower()}",
            stream=stream.name,
            filter_subjects=tuple(stream.subjects),
            handlers={},
            fallback=_fan_out,
            max_deliver=max_deliver,
            ack_wait=ack_wait,
        )
        for stream in STREAMS
    ]
