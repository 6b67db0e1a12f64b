"""The JetStream streams and the subjects they capture (``interfaces.md``).

Request/reply subjects (``rpc.>``) are deliberately outside every stream: a stream capturing a
request subject would answer it with its own store acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EVERY_STREAM",
    "IDENTITY",
    "STREAMS",
    "StreamSpec",
    "stranger",
    "stream_for_type",
    "stream_named",
]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    producer: str
    # Seconds a message is kept; None: the events' retention (``messaging``).
    max_age: float | None = None


# The longest a bearer token may live (``PROCURE_JWT_MAX_LIFETIME`` is at most this): a
# revocation is kept as long, so it outlives every token it stops.
LONGEST_TOKEN_LIFETIME = 7 * 24 * 3600

# The buyers' business: the notifications service fans these out to subscribers.
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("CONTRACTS", ("contracts.>",), "contracts"),
    StreamSpec("PROVIDERS", ("providers.>",), "providers"),
    StreamSpec("NOTIFICATIONS", ("notifications.>",), "notifications"),
)

# Identity's own events: token revocations (``procure_shared.revocations``), which every
# service follows and no subscriber sees. The contracts service publishes them for the admin.
IDENTITY = StreamSpec(
    "IDENTITY", ("identity.>",), "identity", max_age=float(LONGEST_TOKEN_LIFETIME + 3600)
)
EVERY_STREAM: tuple[StreamSpec, ...] = (*STREAMS, IDENTITY)


def stream_for_type(event_type: str, streams: tuple[StreamSpec, ...] = STREAMS) -> StreamSpec:
    producer = event_type.split(".", 1)[0]
    for stream in streams:
        if stream.producer == producer:
            return stream
    raise LookupError(f"no stream captures {event_type!r}")


def stream_named(name: str, streams: tuple[StreamSpec, ...] = STREAMS) -> StreamSpec | None:
    for stream in streams:
        if stream.name == name:
            return stream
    return None


def stranger(stream: StreamSpec, *, subject: str, source: str, type: str) -> str | None:
    """Why an event read from ``stream`` does not belong there (``None`` when it does): its
    producer publishes each event on the subject of its type, a type its own, with its own
    source. The bus's permissions already keep other publishers off the stream; this is the
    consumer's second look."""
    if subject != type:
        return f"an event of type {type!r} published on {subject!r}"
    if type.split(".", 1)[0] != stream.producer:
        return f"type {type!r} is not of {stream.producer}, whose stream {stream.name} it is in"
    if source != f"/procure/{stream.producer}":
        return f"source {source!r} in {stream.name}, the stream of /procure/{stream.producer}"
    return None
