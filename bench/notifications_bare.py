"""The webhook receiver both sides of the notifications benchmark post to, and the bare
baseline: an httpx POST loop.

    python -m bench.notifications_bare receiver --port P --out FILE
    python -m bench.notifications_bare post --work FILE [--concurrency C | --rate R]

``receiver``: uvicorn (httptools, uvloop, one worker, no access log) serving a raw ASGI app, the
subscriber's end: it reads the body, notes time.time_ns() (the handler's time), decodes the
body's ``id`` (the event id: the body is the event's envelope), counts a repeated
``webhook-id`` and answers 200 with no body. Prints ``ready`` once listening; on SIGTERM stops,
writes {event id: ns} to --out and prints its counts as one JSON line.

``post``: the bare baseline. One ``httpx.AsyncClient`` as it comes (its default limits: 100
connections, 20 kept alive), only told not to take a proxy from the environment (as the
service's sender) and to wait as long as the sender does; the work read from --work (url,
headers, body of each request: the bytes the service sends, signed in advance). Prints
``ready``; on ``go`` on stdin it either drains the work with --concurrency coroutines, each
POSTing the next item and awaiting its answer (the peak throughput), or POSTs one item every
1/--rate s, open loop (the HTTP hop's latency), noting time.time_ns() before each request by
event id. Then prints its figures as one JSON line (and writes the send times to --out when
pacing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import uvicorn
import uvloop

from bench.harness import open_loop

WEBHOOK_TIMEOUT = 15.0  # NotificationsOptions().webhook_timeout, the service's default


class Item(msgspec.Struct, frozen=True):
    """One webhook request: where, the headers (the Standard Webhooks ones and the rest the
    service sends) and the body (the event's envelope); ``event`` is the event's id."""

    url: str
    headers: dict[str, str]
    body: bytes
    event: str


class _Head(msgspec.Struct):
    id: str = ""


_head = msgspec.json.Decoder(_Head)


# --- the receiver ---------------------------------------------------------------------------


class Receiver:
    """The ASGI app: one stamp per event, the first time it arrives."""

    def __init__(self) -> None:
        self.stamps: dict[str, int] = {}
        self.seen: set[bytes] = set()
        self.requests = 0
        self.duplicates = 0
        self.undecodable = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        at = time.time_ns()
        self.requests += 1
        webhook_id = b""
        for name, value in scope["headers"]:
            if name == b"webhook-id":
                webhook_id = value
                break
        if webhook_id in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(webhook_id)
        try:
            self.stamps.setdefault(_head.decode(body).id, at)
        except msgspec.DecodeError:
            self.undecodable += 1
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
        )
        await send({"type": "http.response.body", "body": b""})


class _Server(uvicorn.Server):
    # This process handles SIGTERM itself (uvicorn's own handling re-raises it on the way out).
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _receive(args: argparse.Namespace) -> None:
    app = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    server = _Server(
        uvicorn.Config(
            app,
            http="httptools",
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the receiver stopped before it listened")
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
    print("ready", flush=True)
    await task
    sock.close()
    if args.out:
        await asyncio.to_thread(Path(args.out).write_bytes, msgspec.json.encode(app.stamps))
    counts = {
        "requests": app.requests,
        "distinct": len(app.seen),
        "duplicates": app.duplicates,
        "undecodable": app.undecodable,
    }
    print(msgspec.json.encode(counts).decode(), flush=True)


# --- the bare POST loop ---------------------------------------------------------------------


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(WEBHOOK_TIMEOUT), trust_env=False)


async def drain(http: httpx.AsyncClient, items: list[Item], concurrency: int) -> dict[str, Any]:
    """Every item, ``concurrency`` at a time, as fast as the answers come."""
    work = iter(items)
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()

    async def one() -> None:
        for item in work:
            try:
                response = await http.post(item.url, content=item.body, headers=item.headers)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
            else:
                statuses[response.status_code] += 1

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "sent": len(items),
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": dict(errors),
    }


async def pace(
    http: httpx.AsyncClient, items: list[Item], rate: float, sent: dict[str, int]
) -> dict[str, Any]:
    """One item every 1/rate s, open loop (a request starts on schedule whether or not the
    previous ones have been answered); ``sent`` gets time.time_ns() before each request."""
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()

    async def one(item: Item) -> None:
        sent[item.event] = time.time_ns()
        try:
            response = await http.post(item.url, content=item.body, headers=item.headers)
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
        else:
            statuses[response.status_code] += 1

    run = await open_loop(rate, len(items), lambda i: one(items[i]))
    return {
        "seconds": run.seconds,
        "sent": len(items),
        "max_behind_ms": round(run.behind * 1000, 2),
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": dict(errors),
    }


async def _post(args: argparse.Namespace) -> None:
    raw = await asyncio.to_thread(Path(args.work).read_bytes)
    items = msgspec.json.decode(raw, type=list[Item])
    async with client() as http:
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            raise SystemExit(f"expected 'go', read {line!r}")
        sent: dict[str, int] = {}
        if args.rate:
            result = await pace(http, items, args.rate, sent)
        else:
            result = await drain(http, items, args.concurrency)
    if args.out:
        await asyncio.to_thread(Path(args.out).write_bytes, msgspec.json.encode(sent))
    print(msgspec.json.encode(result).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications_bare")
    parser.add_argument("role", choices=["receiver", "post"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", default="")
    parser.add_argument("--work", default="")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.0)
    args = parser.parse_args()
    if args.role == "post" and not args.work:
        parser.error("post needs --work")
    uvloop.run(_receive(args) if args.role == "receiver" else _post(args))


if __name__ == "__main__":
    main()
