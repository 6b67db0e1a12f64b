"""``RevocationFeed`` against a real nats-server: it reads what the ``IDENTITY`` stream holds
before the process serves, hears each new revocation, reads again what it missed, ignores
what is not identity's, and follows a stream made anew."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_shared.events.envelope import Envelope, encode_envelope
from procure_shared.events.identity import TokenRevoked
from procure_shared.events.registry import TOKEN_REVOKED
from procure_shared.events.streams import IDENTITY
from procure_shared.messaging.nats import ensure_streams
from procure_shared.revocations import RevocationFeed, Revocations
from tests.support.wait import eventually, holds


def revoked(jti: str, *, source: str = "identity") -> Envelope:
    now = datetime.now(UTC)
    return Envelope.new(
        service=source,
        type=TOKEN_REVOKED.type,
        subject=jti,
        time=now,
        sequence=1,
        data=TokenRevoked(jti=jti, revoked_by="root", revoked_at=now),
    )


async def publish(js: JetStreamContext, envelope: Envelope) -> None:
    await js.publish(envelope.type, encode_envelope(envelope), headers={"Nats-Msg-Id": envelope.id})


def is_revoked(revocations: Revocations, jti: str) -> bool:
    return revocations.refusal("anyone", jti, 0.0) == "the token was revoked"


async def test_the_feed_reads_the_stream_before_serving_then_hears_each_new_revocation(
    nc: Client, js: JetStreamContext
) -> None:
    await ensure_streams(js, 1, (IDENTITY,))
    earlier = [str(uuid.uuid4()) for _ in range(3)]
    for jti in earlier:
        await publish(js, revoked(jti))
    revocations = Revocations(keep=3600)
    feed = RevocationFeed(nc, js, revocations)
    await feed.start()
    assert all(is_revoked(revocations, jti) for jti in earlier)
    assert feed.read_to == 3

    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    try:
        later = str(uuid.uuid4())
        await publish(js, revoked(later))
        await eventually(lambda: holds(is_revoked(revocations, later)), within=2, what="heard")
    finally:
        stop.set()
        await task


async def test_a_forged_or_undecodable_message_on_the_stream_revokes_nothing(
    nc: Client, js: JetStreamContext
) -> None:
    await ensure_streams(js, 1, (IDENTITY,))
    forged = revoked("forged", source="providers")  # not identity's source
    await publish(js, forged)
    await js.publish("identity.token.revoked", b"not an envelope")
    revocations = Revocations(keep=3600)
    await RevocationFeed(nc, js, revocations).start()
    assert len(revocations) == 0
    assert not is_revoked(revocations, "forged")


async def test_a_read_after_a_gap_takes_what_the_subscription_missed_and_a_stream_made_anew(
    nc: Client, js: JetStreamContext
) -> None:
    await ensure_streams(js, 1, (IDENTITY,))
    revocations = Revocations(keep=3600)
    feed = RevocationFeed(nc, js, revocations)
    await feed.read()  # read without subscribing: as if disconnected meanwhile
    missed = str(uuid.uuid4())
    await publish(js, revoked(missed))
    assert await feed.read() == 1
    assert is_revoked(revocations, missed)

    await js.delete_stream(IDENTITY.name)
    await ensure_streams(js, 1, (IDENTITY,))
    anew = str(uuid.uuid4())
    await publish(js, revoked(anew))
    assert await feed.read() == 1
    assert is_revoked(revocations, anew)


async def test_without_the_stream_there_is_nothing_revoked_yet(
    nc: Client, js: JetStreamContext
) -> None:
    revocations = Revocations(keep=3600)
    assert await RevocationFeed(nc, js, revocations).read() == 0
    assert len(revocations) == 0
