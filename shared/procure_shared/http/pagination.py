"""Keyset pagination: lists return ``{"items": [...], "nextCursor": "..."}``; the cursor is
opaque to clients (the sort key of the last item, base64url-encoded JSON)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter

from procure_shared.http.problems import FieldError, ProblemException

__all__ = [
    "MAX_LIMIT",
    "Cursor",
    "Limit",
    "created_key",
    "decode_cursor",
    "encode_cursor",
    "keyset_after",
    "next_cursor",
]

MAX_LIMIT = 200

Limit = Annotated[
    int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT}).")
]
Cursor = Annotated[
    str | None,
    QueryParameter(description="The `nextCursor` of the previous page.", max_length=1000),
]


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(key)).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int, kind: Any = None) -> Any:
    """The sort key a cursor carries (a list, or converted to ``kind``, e.g. a tuple type);
    400 when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = msgspec.json.decode(base64.urlsafe_b64decode(padded), type=list[Any])
        if kind is not None and key is not None and len(key) == arity:
            key = msgspec.convert(key, kind, strict=False)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        key = None
    if key is None or len(key) != arity:
        raise ProblemException(
            400,
            "the cursor is not one this API handed out",
            title="Invalid request",
            errors=[FieldError(field="cursor", message="use the nextCursor of a previous page")],
        )
    return key


def next_cursor(items: list[Any], limit: int, key: Any) -> str | None:
    """The cursor after a full page (``key(last item)`` is the sort key), else None."""
    return encode_cursor(key(items[-1])) if len(items) == limit and items else None


def keyset_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) a page of a newest-first list starts after."""
    if not cursor:
        return None
    key: tuple[datetime, uuid.UUID] = decode_cursor(cursor, 2, tuple[datetime, uuid.UUID])
    return key


def created_key(item: Any) -> list[Any]:
    """The sort key of a newest-first list's item, for its cursor."""
    return [item.created_at, item.id]
