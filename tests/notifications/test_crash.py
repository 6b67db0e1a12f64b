"""The notifications process killed with -9 while a receiver holds a request open, then
started again: every event still arrives, under one webhook-id per event and subscription, in
sequence order per aggregate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nats.js import JetStreamContext

from procure_notifications.usecases.fanout import delivery_id
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import Envelope, decode_envelope
from tests.notifications.conftest import Api, amended, publish, verified, webhook
from tests.support.ports import free_port_run
from tests.support.receiver import HOLD, Receiver
from tests.support.servers import NatsHandle
from tests.support.wait import eventually, holds

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def service(database_url: str, nats: NatsHandle) -> Iterator[subprocess.Popen[bytes]]:
    """The notifications service's consumers and delivery worker, in a process of its own."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": nats.url,
        "PROCURE_NATS_CREDENTIALS": nats.seed("notifications"),
        "PROCURE_WEBHOOK_ALLOW_LOOPBACK": "true",
        "PROCURE_WEBHOOK_TIMEOUT": "1",
        "PROCURE_DELIVERY_POLL": "0.1",
        "PROCURE_LOG_LEVEL": "WARNING",
        "PROCURE_HTTP_PORT": str(free_port_run(1)),  # its probes and /metrics
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "procure_notifications", "serve", "--role", "consumers"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def test_a_process_killed_mid_request_loses_no_delivery_and_sends_each_under_one_id(
    napi: Api,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
    notifications_url: str,
    nats_handle: NatsHandle,
) -> None:
    made = (await napi.subscribe(webhook(receiver.url("/k"), "contracts.>"))).json()
    held, other = str(uuid.uuid4()), str(uuid.uuid4())
    receiver.answer("/k", HOLD, when=f'"subject":"{held}","time"'.encode())
    events = [amended(c, n) for n in range(1, 6) for c in (held, other)]
    for e in events:
        await publish(js, e)
    expected = {str(delivery_id(made["id"], e.id)) for e in events}

    with service(notifications_url, nats_handle) as first:
        await eventually(lambda: holds(receiver.holding == 1), what="the request held open")
        await eventually(
            lambda: npool.fetchval("SELECT count(*) = 10 FROM deliveries"), what="all recorded"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    with service(notifications_url, nats_handle):
        await eventually(
            lambda: holds({r.id for r in receiver.answered("/k")} == expected),
            within=30,
            what="every event delivered after the restart",
        )
        await eventually(
            lambda: npool.fetchval(
                "SELECT count(*) = 10 FROM deliveries WHERE status = 'delivered'"
            ),
            what="every delivery recorded as delivered",
        )

    # What a receiver deduping on webhook-id keeps: each event once, in order per contract.
    kept: dict[str, Envelope] = {}
    for r in receiver.answered("/k"):
        kept.setdefault(r.id, verified(made["secret"], r))
    for contract in (held, other):
        assert [e.sequence for e in kept.values() if e.subject == contract] == [1, 2, 3, 4, 5]
    # An id came twice only where an attempt's outcome died with the process: the held
    # request, and any answered but not yet recorded when the process was killed.
    [lost] = [r for r in receiver.to("/k") if r.status == HOLD]
    assert decode_envelope(lost.body).subject == held
    seen = Counter(r.id for r in receiver.to("/k"))
    unrecorded = await npool.fetch(
        "SELECT d.id::text FROM deliveries d WHERE d.attempts >"
        " (SELECT count(*) FROM delivery_attempts a WHERE a.delivery_id = d.id)"
    )
    assert {i for i, n in seen.items() if n > 1} <= {r["id"] for r in unrecorded}
    assert lost.id in {r["id"] for r in unrecorded}
