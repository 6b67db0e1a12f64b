"""The event envelope: CloudEvents 1.0 attribute names plus Procure's extensions.

``data`` stays raw bytes on decode so that a consumer decodes it with the Struct of the event
type it handles (or not at all, for types it ignores).
"""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any

import msgspec

__all__ = ["DATA_CONTENT_TYPE", "SPEC_VERSION", "Envelope", "decode_envelope", "encode_envelope"]

SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"


class Envelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    datacontenttype: str
    procureversion: int
    sequence: int
    data: msgspec.Raw
    buyerid: str | None = None

    @classmethod
    def new(
        cls,
        *,
        service: str,
        type: str,
        subject: str,
        time: datetime,
        sequence: int,
        data: Any,
        version: int = 1,
        buyer_id: str | None = None,
        event_id: str | None = None,
    ) -> Envelope:
        if time.tzinfo is None:
            raise ValueError("an event's time must carry a timezone")
        return cls(
            specversion=SPEC_VERSION,
            id=event_id or str(uuid.uuid4()),
            source=f"/procure/{service}",
            type=type,
            subject=subject,
            time=time,
            datacontenttype=DATA_CONTENT_TYPE,
            procureversion=version,
            sequence=sequence,
            data=msgspec.Raw(_encoder.encode(data)),
            buyerid=buyer_id,
        )

    def decode_data(self, data_type: builtins.type[Any]) -> Any:
        return msgspec.json.decode(self.data, type=data_type)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode_envelope(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode_envelope(payload: bytes) -> Envelope:
    """Decode an envelope; raises ``msgspec.DecodeError`` (or ValidationError) when malformed."""
    return _decoder.decode(payload)
