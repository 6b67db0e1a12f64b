"""A real local HTTP server receiving webhooks, on the test's event loop: it records every
request and answers what the test scripts for its path (a status, or holding the request open
until released)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.support.wait import eventually, holds

__all__ = ["HOLD", "Receiver", "Request", "receiving"]

HOLD = -1  # answer nothing until ``release`` (or never)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the body had arrived
    status: int  # what it was answered (HOLD: nothing)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    # (path, a marker the body must contain, or b"") -> the answers to give, in order
    scripts: dict[tuple[str, bytes], deque[int]] = field(default_factory=lambda: defaultdict(deque))
    released: asyncio.Event = field(default_factory=asyncio.Event)
    holding: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *statuses: int, when: bytes = b"") -> None:
        """The next requests to ``path`` (whose body contains ``when``) get these answers, in
        order; then 200."""
        self.scripts[path, when].extend(statuses)

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def answered(self, path: str, status: int = 200) -> list[Request]:
        return [r for r in self.to(path) if r.status == status]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = 200
        for (where, marker), script in self.scripts.items():
            if where == path and marker in body and script:
                status = script.popleft()
                break
        self.requests.append(Request(path, headers, body, time.monotonic(), status))
        if status == HOLD:
            self.holding += 1
            await self.released.wait()
            return  # the connection closes without an answer
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    receiver = Receiver(port=sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(receiver, log_config=None, access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: holds(server.started), within=10, what="the receiver listening")
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
