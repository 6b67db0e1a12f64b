"""What every list's filter has in common: the buyer, the keyset position, the page size, a
text search, a status and a value range, as conditions of a keyset page
(``procure_shared.db.documents.Page``, the one place statements are built in code). Each feature's
``store`` adds its own filters to it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import msgspec

from procure_shared.db.documents import Page, as_uuid

__all__ = ["Filter", "uuid_or_nothing"]


class Filter(msgspec.Struct, kw_only=True):
    buyer: str | None  # None: every buyer's (admin)
    after: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50
    search: str | None = None
    status: str | None = None
    value_min: Decimal | None = None
    value_max: Decimal | None = None

    def page(self, value_column: str) -> Page:
        page = Page(after=self.after, limit=self.limit)
        if self.buyer is not None:
            page.add("buyer_id = {}", self.buyer)
        if self.status is not None:
            page.add("status = {}", self.status)
        if self.search:
            page.add("search @@ websearch_to_tsquery('english', {})", self.search)
        if self.value_min is not None:
            page.add(f"{value_column} >= {{}}", self.value_min)
        if self.value_max is not None:
            page.add(f"{value_column} <= {{}}", self.value_max)
        return page


def uuid_or_nothing(text: str) -> uuid.UUID:
    """An id that is no UUID names nothing: the UUID it becomes matches no row."""
    return as_uuid(text) or uuid.UUID(int=0)
