"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.{body}``
with a ``whsec_`` secret of 32 random bytes, one per subscription. During a rotation's grace
period both the new and the previous secret sign (space-separated), so receivers can switch
without losing a delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

__all__ = ["PREFIX", "new_secret", "signature", "signatures"]

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signatures(keys: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(signature(k, message_id, timestamp, body) for k in keys)
