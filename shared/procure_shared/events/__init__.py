"""Events: the envelope, the catalogue of event types and the streams.

This package imports only the standard library and msgspec, so that domain code may use it.
"""

from procure_shared.events.catalogue import Catalogue, EventSpec, InvalidEventType
from procure_shared.events.envelope import Envelope, decode_envelope, encode_envelope
from procure_shared.events.registry import CATALOGUE
from procure_shared.events.streams import STREAMS, StreamSpec, stream_for_type

__all__ = [
    "CATALOGUE",
    "STREAMS",
    "Catalogue",
    "Envelope",
    "EventSpec",
    "InvalidEventType",
    "StreamSpec",
    "decode_envelope",
    "encode_envelope",
    "stream_for_type",
]
