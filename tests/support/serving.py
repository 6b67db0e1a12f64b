"""An ASGI app behind a real HTTP server (uvicorn) on a free port of this machine, on the
test's event loop: for clients that are not Python (a browser), and for streamed bodies
(ASGITransport holds a streamed body until it ends)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import uvicorn

from tests.support.wait import eventually, holds

__all__ = ["serving"]


@asynccontextmanager
async def serving(app: Any, *, lifespan: Literal["on", "off"] = "on") -> AsyncIterator[str]:
    """Serve ``app`` (its lifespan run unless ``"off"``); yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_config=None, access_log=False, lifespan=lifespan, timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: holds(server.started), within=10, what="the server listening")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
