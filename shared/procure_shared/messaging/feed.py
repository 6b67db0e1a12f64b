"""The pull change feed: every event a service wrote to its outbox, for readers that cannot take
NATS, in an order that never skips an event committed late.

Outbox positions are a sequence, taken at insert and made visible at commit, so they commit out
of order: a reader that pages by position alone passes over a row whose transaction took a lower
position and committed after a later one (the watermark problem; Prozorro's feed answers it
with a delay). Each outbox row records its transaction's id (``txid``, migration
``20261128000001``), and a page holds only rows of transactions below its snapshot's xmin, in
(txid, position) order (``sql/feed.sql``): every transaction below the xmin has finished, so a
later read finds no new row behind the cursor. The price: a transaction that stays open holds
the feed back (on PostgreSQL's whole server: xids are per cluster) until it ends.

The cursor is opaque to clients (base64url JSON of ``[txid, position]``, like the lists'), and
every page returns one: a feed is polled, and an empty page's cursor is where to ask again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter

from procure_shared.db.postgres import Queries
from procure_shared.db.sqlfiles import load_queries
from procure_shared.events.envelope import Envelope
from procure_shared.http.pagination import (
    MAX_LIMIT,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
)

__all__ = [
    "FEED_DESCRIPTION",
    "START",
    "ChangeEvent",
    "ChangeFeedItem",
    "ChangeFeedPage",
    "FeedCursor",
    "FeedLimit",
    "FeedScope",
    "Position",
    "decode_position",
    "encode_position",
    "read_page",
]

Q = load_queries(Path(__file__).parent / "sql" / "feed.sql")

Position = tuple[int, int]  # (txid, position): the last event a reader has had
START: Position = (0, 0)
_MAX_XID8 = 2**64 - 1
_MAX_BIGINT = 2**63 - 1
# A cursor's key: the transaction id an xid8 holds (msgspec bounds no integer beyond int64:
# ``decode_position`` checks it), the position a bigint; neither negative.
_Key = tuple[
    Annotated[int, msgspec.Meta(ge=0)],
    Annotated[int, msgspec.Meta(ge=0, le=_MAX_BIGINT)],
]

FeedLimit = Annotated[
    int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Events per page (at most {MAX_LIMIT}).")
]
FeedCursor = Annotated[
    str | None,
    QueryParameter(
        description="The `nextCursor` of the previous page; none to read from the beginning.",
        max_length=1000,
    ),
]

FEED_DESCRIPTION = (
    "Every event the service published, in the envelope NATS carries it in (CloudEvents JSON, "
    "`data` included), oldest first, each once. Poll it: every page returns `nextCursor`, "
    "also an empty one (then often the cursor you sent); ask for the next page with it. A "
    "page with fewer than `limit` items means you are up to date for now. An item's own "
    "`cursor` resumes after that item; without a cursor the feed starts at the beginning.\n\n"
    "No event is skipped, even one whose transaction committed after a later event's: a page "
    "holds only events of transactions older than every transaction still running, so an event "
    "appears once its transaction and every older one have ended. A long-running transaction "
    "on the database server therefore delays the feed (it never loses events). The order is "
    "neither the events' time nor strictly their commit order: to apply one aggregate's events "
    "in order, use their `subject` and `sequence`.\n\n"
    "You see your buyer's events and shared ones (no `buyerid`: the provider registry); an "
    "admin sees every buyer's, or one buyer's with `buyer`."
)


class ChangeEvent(Envelope, frozen=True, kw_only=True):
    """The event as published (the envelope: CloudEvents 1.0 attributes and Procure's
    extensions), its data as an object; for the OpenAPI document: the feed returns the stored
    envelope byte for byte."""

    # The stored envelope keeps its data as raw JSON; the document says what that JSON is.
    data: dict[str, Any]  # type: ignore[assignment]


class ChangeFeedItem(msgspec.Struct, frozen=True, kw_only=True):
    cursor: str
    event: ChangeEvent


class ChangeFeedPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[ChangeFeedItem]
    next_cursor: str


class _Item(msgspec.Struct, frozen=True):
    cursor: str
    event: msgspec.Raw


class _Page(msgspec.Struct, frozen=True, rename="camel"):
    items: list[_Item]
    next_cursor: str


@dataclass(frozen=True)
class FeedScope:
    """Whose events a reader sees: one buyer's (``buyer``) or every buyer's (None); and events
    of no buyer (shared data) or not."""

    buyer: str | None
    shared: bool = True


def encode_position(position: Position) -> str:
    return encode_cursor(list(position))


def decode_position(cursor: str | None) -> Position:
    """The position a cursor carries (the start without one); 400 when it is not ours (an
    empty one included)."""
    if cursor is None:
        return START
    txid, position = decode_cursor(cursor, 2, _Key)
    if txid > _MAX_XID8:
        raise invalid_cursor()
    return (txid, position)


async def read_page(db: Queries, after: Position, limit: int, scope: FeedScope) -> bytes:
    """The page after ``after`` as the JSON body ``{"items": [...], "nextCursor": ...}``.

    One statement (one snapshot): call it on the pool or on a connection that has written
    nothing in its open transaction."""
    rows = await db.fetch(Q.page, str(after[0]), after[1], scope.buyer, scope.shared, limit)
    items: list[_Item] = []
    end = after
    for row in rows:
        position = (int(row["txid"]), int(row["position"]))
        if row["kind"] == 0:
            items.append(_Item(encode_position(position), msgspec.Raw(row["payload"])))
            end = position
        elif len(items) < limit:
            # Every visible event up to the horizon is on this page: move past the rest.
            end = max(end, position)
    return _encoder.encode(_Page(items=items, next_cursor=encode_position(end)))


_encoder = msgspec.json.Encoder()
