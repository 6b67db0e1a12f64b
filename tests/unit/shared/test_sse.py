"""The kernel's NATS-to-SSE buffer, by itself: what a connection keeps, once each, and how it
says it fell behind."""

from __future__ import annotations

import msgspec

from procure_shared.http.sse import REMEMBERED, Buffer, Closing

OVERFLOW = Closing("overflow", "too far behind")


def buffer(limit: int = 10) -> Buffer[str]:
    """Keeps the payloads that start with ``ok``; its items are the payloads' text."""
    return Buffer(
        lambda payload: payload.decode() if payload.startswith(b"ok") else None,
        lambda item: item,
        limit=limit,
        overflow=OVERFLOW,
    )


async def test_a_buffer_keeps_what_it_accepts_in_arrival_order_and_each_id_once() -> None:
    kept = buffer()
    for payload in (b"ok-1", b"no-2", b"ok-3", b"ok-1"):
        kept.offer(payload)
    assert [await kept.next(0.01), await kept.next(0.01)] == ["ok-1", "ok-3"]
    assert await kept.next(0.01) is None


async def test_a_buffer_forgets_the_oldest_ids_past_what_it_remembers() -> None:
    kept = buffer(limit=REMEMBERED + 10)
    kept.offer(b"ok-first")
    for n in range(REMEMBERED):
        kept.offer(f"ok-{n}".encode())
    kept.offer(b"ok-first")  # forgotten: taken again
    taken = [await kept.next(0.01) for _ in range(REMEMBERED + 2)]
    assert taken[0] == taken[-1] == "ok-first"


async def test_a_full_buffer_takes_no_more_gives_what_it_holds_then_the_overflow() -> None:
    kept = buffer(limit=2)
    for payload in (b"ok-1", b"ok-2", b"ok-3", b"ok-4"):
        kept.offer(payload)
    assert kept.overflowed
    assert [await kept.next(0.01) for _ in range(3)] == ["ok-1", "ok-2", OVERFLOW]


def test_a_closing_message_gives_its_reason_and_its_detail_when_it_has_one() -> None:
    with_detail = OVERFLOW.message()
    assert with_detail.event == "closed"
    assert isinstance(with_detail.data, bytes)
    assert msgspec.json.decode(with_detail.data) == {
        "reason": "overflow",
        "detail": "too far behind",
    }
    bare = Closing("token_expired").message()
    assert isinstance(bare.data, bytes)
    assert msgspec.json.decode(bare.data) == {"reason": "token_expired"}
