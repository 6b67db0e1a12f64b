"""Resource ids are UUIDs; a path or request naming anything else names nothing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeAlias

import asyncpg

__all__ = ["Row", "as_uuid"]

# A database row, or a dict of one (from row_to_json).
Row: TypeAlias = "asyncpg.Record | Mapping[str, Any]"


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
