"""The development stack's mailbox: an SMTP server (aiosmtpd) on this machine that keeps every
mail it is given as a file under ``.procure/mail/``, so that email subscriptions can be tried
with ``make up`` without a real mail server."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["MailSink"]


class _Keep:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self.count):05d}.eml"
        (self.folder / name).write_bytes(envelope.content)
        return "250 OK: kept"


class MailSink:
    def __init__(self, folder: Path, port: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port
        self._controller = Controller(_Keep(folder), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
