"""Process settings, read from the environment once, in ``__main__``.

A service reads its own database (``DATABASE_URL``), ``NATS_URL``, the token settings and its
options. Nothing else reads the environment: ``Settings`` is passed down explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

import msgspec

__all__ = [
    "ENV_NAMES",
    "ServiceOptions",
    "Settings",
    "SettingsError",
    "settings_from_env",
]

DEV_JWT_SECRET = "procure-development-secret-change-me-0123456789"  # noqa: S105 (dev default)


class SettingsError(ValueError):
    """The environment does not describe a runnable process."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service reads; each field's ``Meta`` description is its entry in
    docs/configuration.md (``procure configuration``)."""

    service: str
    database_url: Annotated[
        str,
        msgspec.Meta(
            description="The service's own PostgreSQL database (a `postgresql://` URL); "
            "`python -m procure_<service> migrate` creates it if it does not exist."
        ),
    ]
    nats_url: Annotated[
        str,
        msgspec.Meta(
            description="The NATS server (with JetStream): one URL, or a cluster's nodes "
            "separated by commas."
        ),
    ] = "nats://127.0.0.1:4222"
    nats_credentials: Annotated[
        str | None,
        msgspec.Meta(
            description="The file of the nkey seed the process connects to NATS with: its "
            "own identity's (`procure bus credentials` writes one for each identity, and the "
            "server's authorization for them). Required to serve: a service does not connect "
            "without it."
        ),
    ] = None
    nats_tls_ca: Annotated[
        str | None,
        msgspec.Meta(
            description="The certificate authority (PEM) that signed the NATS servers' "
            "certificates; set, the connection is TLS and the server's certificate is checked."
        ),
    ] = None
    nats_tls_cert: Annotated[
        str | None,
        msgspec.Meta(
            description="The process's own certificate (PEM) for NATS servers that verify "
            "their clients' (mutual TLS); with `PROCURE_NATS_TLS_KEY`."
        ),
    ] = None
    nats_tls_key: Annotated[
        str | None,
        msgspec.Meta(description="The key (PEM) of `PROCURE_NATS_TLS_CERT`."),
    ] = None
    http_host: Annotated[
        str, msgspec.Meta(description="The address the HTTP server listens on.")
    ] = "127.0.0.1"
    http_port: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=65535,
            description="The HTTP server's port: the API (roles `all` and `http`), and "
            "`/health/*` and `/metrics` (every role).",
        ),
    ] = 8000
    jwt_secret: Annotated[
        str,
        msgspec.Meta(
            min_length=32,
            description="The HS256 secret bearer tokens are signed with (the same for every "
            "service and for whoever issues the tokens). The default is public: set your own "
            "anywhere but on a development machine.",
        ),
    ] = DEV_JWT_SECRET
    jwt_issuer: Annotated[
        str, msgspec.Meta(description="The issuer (`iss`) a bearer token must name.")
    ] = "procure-dev"
    jwt_audience: Annotated[
        str, msgspec.Meta(description="The audience (`aud`) a bearer token must name.")
    ] = "procure"
    clock_start: Annotated[
        datetime | None,
        msgspec.Meta(
            description="Demo clock: the instant (or a date: its midnight, UTC) the service's "
            "clock starts at; unset: the real time (or now, with `PROCURE_CLOCK_RATE`)."
        ),
    ] = None
    clock_rate: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Demo clock: simulated seconds per real second (3600: an hour a second).",
        ),
    ] = 1.0
    clock_anchor: Annotated[
        datetime | None,
        msgspec.Meta(
            description="Demo clock: the real instant it counts from, so that every process "
            "of a system (and a restarted one) reads the same time; unset: the process's "
            "start."
        ),
    ] = None
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"],
        msgspec.Meta(description="The least severe log records written (JSON lines on stderr)."),
    ] = "INFO"
    stream_replicas: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=5,
            description="Copies of each JetStream stream, one a NATS node (3 on a three-node "
            "cluster); every process creates or updates the streams at start.",
        ),
    ] = 1
    relay_batch_size: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=1000, description="Outbox rows the relay claims and publishes at a time."
        ),
    ] = 100
    relay_poll_interval: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Seconds between the relay's looks at the outbox when nothing wakes "
            "it; a standby relay tries this often to take over.",
        ),
    ] = 1.0
    consumer_max_deliver: (
        Annotated[
            int,
            msgspec.Meta(
                ge=2,
                description="Deliveries of an event to each of the service's consumers before "
                "it is a dead letter. Unset: each consumer's own (20; 8 for the providers' "
                "track record).",
            ),
        ]
        | None
    ) = None
    consumer_ack_wait: (
        Annotated[
            float,
            msgspec.Meta(
                gt=0,
                description="Seconds each of the service's consumers has to settle an event "
                "before it is delivered again. Unset: each consumer's own (30).",
            ),
        ]
        | None
    ) = None
    pool_size: Annotated[
        int,
        msgspec.Meta(
            ge=1, description="PostgreSQL connections in each process's pool, at the most."
        ),
    ] = 10


# Settings field -> environment variable.
ENV_NAMES: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "nats_url": "NATS_URL",
    "nats_credentials": "PROCURE_NATS_CREDENTIALS",
    "nats_tls_ca": "PROCURE_NATS_TLS_CA",
    "nats_tls_cert": "PROCURE_NATS_TLS_CERT",
    "nats_tls_key": "PROCURE_NATS_TLS_KEY",
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
    return _convert(raw, Settings, ENV_NAMES)


_INSTANTS = ("clock_start", "clock_anchor")


def _midnight(value: str) -> str:
    """A bare date (``2023-07-24``) is that day's midnight, UTC."""
    return f"{value}T00:00:00Z" if len(value) == 10 else value


Options = TypeVar("Options", bound=msgspec.Struct)


def _convert(raw: Mapping[str, object], kind: type[Options], names: Mapping[str, str]) -> Options:
    try:
        return msgspec.convert(raw, kind, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec says "... at `$.http_port`": name the environment variable instead.
        message = str(exc)
        for field, name in names.items():
            message = message.replace(f"`$.{field}`", name)
        raise SettingsError(message) from exc


@dataclass(frozen=True)
class ServiceOptions(Generic[Options]):
    """A service's own options: its Struct (each field's ``Meta`` description says what it
    means) and the environment variable of each field. A service names its ``ServiceOptions``
    in the ``procure.settings`` entry point group, where the configuration reference finds it
    (this package imports no service)."""

    service: str
    kind: type[Options]
    env_names: Mapping[str, str]

    def from_env(self, environ: Mapping[str, str]) -> Options:
        """The options from the environment (``os.environ`` in main): an unset or empty
        variable leaves its default; a bad value is a ``SettingsError`` naming the variable."""
        raw = {field: environ[name] for field, name in self.env_names.items() if environ.get(name)}
        return _convert(raw, self.kind, self.env_names)
