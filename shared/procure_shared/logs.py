"""Structured JSON logs, one object per line, carrying the correlation id of the request or
event being handled (HTTP ``X-Correlation-Id``, NATS ``Procure-Correlation-Id``)."""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = ["configure_logging", "correlation_id", "new_correlation_id"]

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)

# Attributes every LogRecord has; anything else came through ``extra=`` and is logged.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn repeats its message with terminal colours
}
_encoder = msgspec.json.Encoder()


def new_correlation_id() -> str:
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlationId"] = cid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode("utf-8", errors="replace")

    def formatException(self, ei: Any) -> str:
        return super().formatException(ei)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The NATS client logs every reconnect attempt; our callbacks report the state instead.
    logging.getLogger("nats").setLevel(logging.WARNING)
    # httpx logs every request at INFO (a webhook's URL each delivery); the delivery log and
    # the metrics say what happened instead.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
