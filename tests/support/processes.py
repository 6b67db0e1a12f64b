"""A relay or a consumer in a process of its own, so that tests can kill it with -9.

python -m tests.support.processes relay --dsn DSN --nats URL
python -m tests.support.processes consumer --dsn DSN --nats URL [--delay-max S] [--fail-every N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import subprocess
import sys
from pathlib import Path

from procure_shared.db.postgres import Connection, create_pool
from procure_shared.events import Envelope
from procure_shared.messaging.consumer import Consumer
from procure_shared.messaging.nats import NatsState, connect_nats, ensure_streams
from procure_shared.messaging.outbox import Relay
from tests.support.effects import effects_consumer, record_effect
from tests.support.producer import TEST_STREAM
from tests.support.servers import access_in, session_credentials

ROOT = Path(__file__).resolve().parents[2]


def spawn(role: str, dsn: str, nats_url: str, *options: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tests.support.processes", role, "--dsn", dsn]
    credentials = str(session_credentials())
    return subprocess.Popen(
        [*argv, "--nats", nats_url, "--credentials", credentials, *options],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    pool = await create_pool(args.dsn, size=10)
    state = NatsState(name=f"tests-{args.role}")
    nc = await connect_nats(args.nats, state, access_in(Path(args.credentials)))
    js = nc.jetstream()
    await ensure_streams(js, 1, (TEST_STREAM,))
    if args.role == "relay":
        worker: Relay | Consumer = Relay(
            service="tests", dsn=args.dsn, pool=pool, js=js, poll_interval=0.2
        )
    else:
        seen = 0

        async def handler(conn: Connection, envelope: Envelope) -> None:
            nonlocal seen
            seen += 1
            if args.delay_max:
                await asyncio.sleep(random.uniform(0, args.delay_max))  # the slow work
            if args.fail_every and seen % args.fail_every == 0:
                raise RuntimeError("a forced failure: the message is redelivered")
            await record_effect(conn, envelope)

        worker = Consumer(
            effects_consumer(handler, max_error_delay=0.5, max_deliver=100),
            pool=pool,
            js=js,
        )
    await worker.run(stop)
    state.closing = True
    await nc.close()
    await pool.close()


def main() -> None:
    # Failures are forced here by the hundred: log only what is worse.
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["relay", "consumer"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--credentials", required=True)
    parser.add_argument("--delay-max", type=float, default=0.0)
    parser.add_argument("--fail-every", type=int, default=0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
