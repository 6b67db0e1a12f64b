"""Mail through a real local SMTP server (one per event, or a daily digest), a receiver that
answers 410 Gone, the SSRF check made again when a delivery is sent, and the test endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from nats.js import JetStreamContext
from standardwebhooks import Webhook

from procure_notifications.settings import NotificationsOptions
from procure_notifications.usecases.fanout import delivery_id
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import decode_envelope
from procure_shared.service import Runtime
from tests.notifications.conftest import NOW, Api, amended, delivering, publish, webhook
from tests.support.mailbox import Mailbox, mailbox
from tests.support.receiver import Receiver
from tests.support.wait import eventually, holds


@pytest.fixture
async def box() -> AsyncIterator[Mailbox]:
    async with mailbox() as b:
        yield b


def mailed(options: NotificationsOptions, box: Mailbox) -> NotificationsOptions:
    return msgspec.structs.replace(
        options, smtp_port=box.port, retry_first_delay=5.0, retry_jitter=0.0
    )


def email(address: str, *types: str, digest: str = "none") -> dict[str, Any]:
    return {
        "name": "Contract changes",
        "channel": {"kind": "email", "address": address, "digest": digest},
        "filter": {"eventTypes": list(types) or [">"]},
    }


async def status(npool: Pool, key: uuid.UUID) -> str | None:
    value = await npool.fetchval("SELECT status FROM deliveries WHERE id = $1", key)
    return None if value is None else str(value)


async def test_each_event_is_a_mail_with_text_and_html_parts_and_the_delivery_as_message_id(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    box: Mailbox,
    js: JetStreamContext,
    npool: Pool,
    clock: FixedClock,
) -> None:
    made = (await napi.subscribe(email("ops@education.gov.uk", "contracts.>"))).json()
    e = amended(str(uuid.uuid4()), 1)
    key = delivery_id(made["id"], e.id)
    box.refuse("451 4.3.0 try again later")
    async with delivering(nrt, mailed(options, box)):
        await publish(js, e)
        await eventually(
            lambda: npool.fetchval(
                "SELECT last_status_code = 451 AND leased_until IS NULL FROM deliveries"
                " WHERE id = $1",
                key,
            ),
            what="the refused attempt recorded",
        )
        assert box.mails == []
        clock.advance(timedelta(seconds=5))
        await eventually(lambda: holds(len(box.mails) == 1), what="the mail")
    assert await status(npool, key) == "delivered"

    mail = box.mails[0]
    assert mail["Message-ID"] == f"<{key}@notifications.procure>"
    assert mail["To"] == "ops@education.gov.uk"
    assert mail["Subject"] == f"[Procure] contracts.contract.amended: {e.subject}"
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = (part.get_content() for part in mail.iter_parts())
    assert f"contracts.contract.amended on {e.subject}" in plain
    assert "note: x" in plain
    assert "<th align='left'>note</th><td>x</td>" in html
    detail = (await napi.get(f"/v1/deliveries/{key}")).json()
    assert [(a["outcome"], a["statusCode"]) for a in detail["attemptLog"]] == [
        ("failed", 451),
        ("delivered", 250),
    ]


async def test_a_daily_digest_is_one_mail_for_a_days_events_once_the_day_is_over(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    box: Mailbox,
    js: JetStreamContext,
    npool: Pool,
    clock: FixedClock,
) -> None:
    made = (await napi.subscribe(email("digest@education.gov.uk", digest="daily"))).json()
    contract = str(uuid.uuid4())
    yesterday = [
        amended(contract, 1, at=-timedelta(hours=20)),
        amended(contract, 2, at=-timedelta(hours=10)),
    ]
    today = amended(contract, 3, at=-timedelta(hours=3))
    clock.set(NOW - timedelta(hours=2, minutes=1))  # 06:59: yesterday's digest is not due yet
    async with delivering(nrt, mailed(options, box)):
        for e in (*yesterday, today):
            await publish(js, e)
        await eventually(
            lambda: npool.fetchval("SELECT count(*) = 3 FROM deliveries"), what="all recorded"
        )
        assert box.mails == []
        clock.set(NOW - timedelta(hours=2))  # 07:00
        await eventually(lambda: holds(len(box.mails) == 1), what="yesterday's digest")
        assert await status(npool, delivery_id(made["id"], today.id)) == "pending"
        clock.advance(timedelta(days=1))
        await eventually(lambda: holds(len(box.mails) == 2), what="today's digest")

    first, second = box.mails
    assert first["Message-ID"].startswith(f"<digest.{made['id']}.20261122.")
    assert first["Subject"] == "[Procure] 2 events on 2026-11-22"
    plain = next(first.iter_parts()).get_content()
    assert plain.count("contracts.contract.amended") == 2
    assert second["Subject"] == "[Procure] 1 event on 2026-11-23"
    delivered = await npool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
    assert delivered == 3


async def test_a_receiver_answering_410_disables_the_subscription_until_it_is_resumed(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
) -> None:
    receiver.answer("/gone", 410)
    made = (await napi.subscribe(webhook(receiver.url("/gone")))).json()
    contract = str(uuid.uuid4())
    first, second = amended(contract, 1), amended(contract, 2)
    path = f"/v1/subscriptions/{made['id']}"
    async with delivering(nrt, options):
        await publish(js, first)
        await eventually(
            lambda: npool.fetchval("SELECT status = 'disabled' FROM subscriptions"),
            what="the subscription disabled",
        )
        await publish(js, second)
        await eventually(
            lambda: npool.fetchval("SELECT count(*) = 2 FROM deliveries"), what="both recorded"
        )
        disabled = (await napi.get(path)).json()
        assert disabled["status"] == "disabled"
        assert disabled["disabledReason"].startswith("the receiver answered 410 Gone")
        assert [r.status for r in receiver.to("/gone")] == [410]  # nothing more meanwhile

        resumed = await napi.act("POST", f"{path}/resume", etag_of=path)
        assert resumed.status_code == 200, resumed.text
        await eventually(lambda: holds(len(receiver.answered("/gone")) == 2), what="both sent")
    assert [decode_envelope(r.body).sequence for r in receiver.answered("/gone")] == [1, 2]
    assert receiver.answered("/gone")[0].id == str(delivery_id(made["id"], first.id))
    trail = (await napi.get(f"{path}/history")).json()
    assert [(t["action"], t["actor"]) for t in trail if "disabled" in t["action"]] == [
        ("notifications.subscription.disabled", "system:notifications/delivery")
    ]


async def test_an_address_allowed_when_subscribing_is_checked_again_when_sending(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
) -> None:
    # Created while loopback was allowed; sent by a worker where it is not (as a name that
    # now resolves to a loopback address would be).
    made = (await napi.subscribe(webhook(f"https://localhost:{receiver.port}/x"))).json()
    e = amended(str(uuid.uuid4()), 1)
    strict = msgspec.structs.replace(options, allow_loopback=False)
    async with delivering(nrt, strict):
        await publish(js, e)
        await eventually(
            lambda: npool.fetchval("SELECT attempts = 1 AND leased_until IS NULL FROM deliveries"),
            what="the attempt recorded",
        )
    detail = (await napi.get(f"/v1/deliveries/{delivery_id(made['id'], e.id)}")).json()
    [attempt] = detail["attemptLog"]
    assert attempt["outcome"] == "refused"
    assert attempt["error"].startswith("refused: localhost resolves to")
    assert "loopback" in attempt["error"]
    assert attempt["address"] is None
    assert receiver.requests == []


async def test_the_test_endpoint_sends_a_signed_sample_and_says_what_the_channel_answered(
    napi: Api, receiver: Receiver
) -> None:
    made = (await napi.subscribe(webhook(receiver.url("/t")))).json()
    answered = await napi.act("POST", f"/v1/subscriptions/{made['id']}/test")
    assert answered.status_code == 200, answered.text
    result = answered.json()
    assert (result["outcome"], result["statusCode"], result["error"]) == ("delivered", 200, None)
    [sample] = receiver.to("/t")
    Webhook(made["secret"]).verify(sample.body, sample.headers)
    envelope = decode_envelope(sample.body)
    assert (envelope.type, envelope.subject, envelope.sequence) == (
        "notifications.subscription.test",
        made["id"],
        0,
    )
    assert sample.id == result["id"]

    receiver.answer("/t", 500)
    failing = (await napi.act("POST", f"/v1/subscriptions/{made['id']}/test")).json()
    assert (failing["outcome"], failing["statusCode"]) == ("failed", 500)

    other = await napi.act("POST", f"/v1/subscriptions/{made['id']}/test", sub="eve")
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
