"""Keyset pagination: lists return ``{"items": [...], "nextCursor": "..."}``; the cursor is
opaque to clients (the sort key of the last item, base64url-encoded JSON)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from types import GenericAlias
from typing import Annotated, Any, get_args, get_origin

import msgspec
from litestar.params import QueryParameter

from procure_shared.http.problems import FieldError, ProblemException

__all__ = [
    "MAX_LIMIT",
    "Bigint",
    "Cursor",
    "Limit",
    "created_key",
    "decode_cursor",
    "encode_cursor",
    "invalid_cursor",
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


Bigint = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""An integer PostgreSQL's ``bigint`` can take: what a bare ``int`` in a cursor's kind means."""

# A cursor key's part as a list without a kind: text or a bigint (never null, nor nested).
_Part = str | Bigint
# What the parts of a kind are held to, so that every key decoded reaches the database: an
# instant carries its offset (a naive one would be read in the server's zone).
_STORABLE: dict[Any, Any] = {
    int: Bigint,
    datetime: Annotated[datetime, msgspec.Meta(tz=True)],
}


def _storable(kind: Any, arity: int) -> Any:
    if kind is None:
        return GenericAlias(tuple, (_Part,) * arity)
    if get_origin(kind) is tuple:
        return GenericAlias(tuple, tuple(_STORABLE.get(part, part) for part in get_args(kind)))
    return kind


def _in_range(value: Any) -> bool:
    """Whether the database can take every instant of a decoded key (one within a day of the
    ends of Python's calendar may not convert to UTC)."""
    parts = value if isinstance(value, tuple | list) else (value,)
    try:
        for part in parts:
            if isinstance(part, datetime):
                part.astimezone(UTC)
    except OverflowError:
        return False
    return True


def decode_cursor(cursor: str, arity: int, kind: Any = None) -> Any:
    """The sort key a cursor carries: ``arity`` parts, as ``kind`` (a tuple type) or, without
    one, as a list of texts and integers. 400 when it is not one of ours, or holds anything the
    database cannot take: a null, a part of another type (no coercion: ``"5"`` is not 5), an
    integer outside ``bigint`` unless ``kind`` bounds it otherwise (``Annotated``), an instant
    without an offset or beyond the calendar."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        key = msgspec.json.decode(raw, type=_storable(kind, arity))
        valid = len(key) == arity and _in_range(key)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        valid = False
    if not valid:
        raise invalid_cursor()
    return list(key) if kind is None else key


def invalid_cursor() -> ProblemException:
    """The 400 for a cursor that is not one this API handed out."""
    return ProblemException(
        400,
        "the cursor is not one this API handed out",
        title="Invalid request",
        errors=[FieldError(field="cursor", message="use the nextCursor of a previous page")],
    )


def next_cursor(items: list[Any], limit: int, key: Any) -> str | None:
    """The cursor after a full page (``key(last item)`` is the sort key), else None."""
    return encode_cursor(key(items[-1])) if len(items) == limit and items else None


def keyset_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) a page of a newest-first list starts after (an empty cursor is
    none this API hands out: 400)."""
    if cursor is None:
        return None
    key: tuple[datetime, uuid.UUID] = decode_cursor(cursor, 2, tuple[datetime, uuid.UUID])
    return key


def created_key(item: Any) -> list[Any]:
    """The sort key of a newest-first list's item, for its cursor."""
    return [item.created_at, item.id]
