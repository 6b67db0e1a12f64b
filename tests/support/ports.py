"""Ports for processes that take several consecutive ones (``procure up``: one per service)."""

from __future__ import annotations

import contextlib
import random
import socket

__all__ = ["free_port_run"]


def free_port_run(count: int, *, tries: int = 200) -> int:
    """The first of ``count`` consecutive ports that are all free now, outside the ephemeral
    range that other tests' servers and clients take theirs from."""
    for _ in range(tries):
        base = random.randrange(20000, 32000 - count)
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")
