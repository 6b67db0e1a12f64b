"""The JetStream streams and the subjects they capture (``interfaces.md``).

Request/reply subjects (``rpc.>``) are deliberately outside every stream: a stream capturing a
request subject would answer it with its own store acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STREAMS", "StreamSpec", "stream_for_type"]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    producer: str


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("CONTRACTS", ("contracts.>",), "contracts"),
    StreamSpec("PROVIDERS", ("providers.>",), "providers"),
    StreamSpec("NOTIFICATIONS", ("notifications.>",), "notifications"),
)


def stream_for_type(event_type: str, streams: tuple[StreamSpec, ...] = STREAMS) -> StreamSpec:
    producer = event_type.split(".", 1)[0]
    for stream in streams:
        if stream.producer == producer:
            return stream
    raise LookupError(f"no stream captures {event_type!r}")
