"""Process settings, read from the environment once, in ``__main__``.

A service reads its own database (``DATABASE_URL``), ``NATS_URL``, the token settings and its
options. Nothing else reads the environment: ``Settings`` is passed down explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal, TypeVar

import msgspec

__all__ = ["ENV_NAMES", "Settings", "SettingsError", "read_options", "settings_from_env"]

DEV_JWT_SECRET = "procure-development-secret-change-me-0123456789"  # noqa: S105 (dev default)


class SettingsError(ValueError):
    """The environment does not describe a runnable process."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    database_url: str
    nats_url: str = "nats://127.0.0.1:4222"
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    jwt_secret: Annotated[str, msgspec.Meta(min_length=32)] = DEV_JWT_SECRET
    jwt_issuer: str = "procure-dev"
    jwt_audience: str = "procure"
    clock_start: datetime | None = None
    clock_rate: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    clock_anchor: datetime | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    relay_batch_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    relay_poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    consumer_max_deliver: Annotated[int, msgspec.Meta(ge=2)] = 8
    consumer_ack_wait: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    pool_size: Annotated[int, msgspec.Meta(ge=1)] = 10


# Settings field -> environment variable.
ENV_NAMES: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "nats_url": "NATS_URL",
    "http_host": "PROCURE_HTTP_HOST",
    "http_port": "PROCURE_HTTP_PORT",
    "jwt_secret": "PROCURE_JWT_SECRET",
    "jwt_issuer": "PROCURE_JWT_ISSUER",
    "jwt_audience": "PROCURE_JWT_AUDIENCE",
    "clock_start": "PROCURE_CLOCK_START",
    "clock_rate": "PROCURE_CLOCK_RATE",
    "clock_anchor": "PROCURE_CLOCK_ANCHOR",
    "log_level": "PROCURE_LOG_LEVEL",
    "stream_replicas": "PROCURE_STREAM_REPLICAS",
    "relay_batch_size": "PROCURE_RELAY_BATCH_SIZE",
    "relay_poll_interval": "PROCURE_RELAY_POLL_INTERVAL",
    "consumer_max_deliver": "PROCURE_CONSUMER_MAX_DELIVER",
    "consumer_ack_wait": "PROCURE_CONSUMER_ACK_WAIT",
    "pool_size": "PROCURE_POOL_SIZE",
}


def settings_from_env(service: str, environ: Mapping[str, str]) -> Settings:
    """Build the settings of ``service`` from an environment mapping (``os.environ`` in main)."""
    raw: dict[str, object] = {"service": service}
    for field, name in ENV_NAMES.items():
        value = environ.get(name)
        if value is not None and value != "":
            raw[field] = _midnight(value) if field in _INSTANTS else value
    if "database_url" not in raw:
        raise SettingsError("DATABASE_URL is not set: the service needs its own database")
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_env_var(str(exc))) from exc


_INSTANTS = ("clock_start", "clock_anchor")


def _midnight(value: str) -> str:
    """A bare date (``2023-07-24``) is that day's midnight, UTC."""
    return f"{value}T00:00:00Z" if len(value) == 10 else value


def _name_env_var(message: str) -> str:
    # msgspec says "... at `$.http_port`": name the environment variable instead.
    for field, name in ENV_NAMES.items():
        message = message.replace(f"`$.{field}`", name)
    return message


Options = TypeVar("Options", bound=msgspec.Struct)


def read_options(
    kind: type[Options], names: Mapping[str, str], environ: Mapping[str, str]
) -> Options:
    """A service's own options (``kind``, a Struct with defaults) from the environment
    variables ``names`` maps its fields to; a bad value is a ``SettingsError`` naming the
    variable."""
    raw = {field: environ[name] for field, name in names.items() if environ.get(name)}
    try:
        return msgspec.convert(raw, kind, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        for field, name in names.items():
            message = message.replace(f"`$.{field}`", name)
        raise SettingsError(message) from exc
