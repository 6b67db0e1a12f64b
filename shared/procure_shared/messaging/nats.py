"""The NATS connection and the JetStream streams.

The connection reconnects forever, reports through our own callbacks (the library's default
prints a traceback on every attempt), and exposes its state so that readiness fails while it is
disconnected. Publishing is never buffered during a reconnection (``pending_size=0``): a publish
while disconnected fails at once, so the relay knows it was not sent, rather than guessing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from procure_shared.events.streams import StreamSpec
from procure_shared.identities import inbox_prefix

__all__ = [
    "DUPLICATE_WINDOW_SECONDS",
    "NatsAccess",
    "NatsAccessError",
    "NatsRefused",
    "NatsState",
    "StreamsOverlap",
    "connect_nats",
    "ensure_streams",
    "retire_legacy_streams",
]

# Streams of earlier versions that stand in the way of this one's: the one DEADLETTERS stream
# captured every consumer's advisories, which each service's own dead-letter stream now does
# (decision 20). Its advisories are already recorded in the services' databases.
LEGACY_STREAMS = ("DEADLETTERS",)

log = logging.getLogger("procure.nats")

# Longer than the relay's longest retry horizon: a relay that published but died before marking
# its rows re-publishes them when it (or its successor) next runs, within seconds normally and
# within this window while PostgreSQL is down; JetStream then drops the repeat by Nats-Msg-Id.
DUPLICATE_WINDOW_SECONDS = 2 * 3600.0
# Events are kept for replay to new subscribers.
EVENT_RETENTION_SECONDS = 90 * 24 * 3600.0


class NatsAccessError(RuntimeError):
    """The credentials or certificates named cannot be used."""


class NatsRefused(RuntimeError):
    """The server refused who we are (an unknown key, an untrusted certificate): trying
    again would not mend it."""


def _refusal(exc: BaseException) -> str | None:
    """Why ``exc`` says the server will never take this client, or ``None``."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, nats.errors.AuthorizationError) or (
        "authorization violation" in str(exc).lower()
    ):
        return "the server does not know this identity's key (Authorization Violation)"
    return None


@dataclass(frozen=True)
class NatsAccess:
    """Who a process is on NATS (``procure_shared.identities``): its identity's name (whose
    inbox it reads), the file of its nkey seed, and the TLS files when the server asks for
    TLS: the certificate authority to trust and, for mutual TLS, its own certificate and key."""

    identity: str
    seed_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def checked(self) -> NatsAccess:
        """This access, once every file it names is readable: a clear error at start rather
        than an authorization failure on every reconnection."""
        for what, name in (
            ("nkey seed", self.seed_file),
            ("TLS certificate authority", self.tls_ca),
            ("TLS certificate", self.tls_cert),
            ("TLS key", self.tls_key),
        ):
            if name is None:
                continue
            try:
                Path(name).read_bytes()
            except OSError as exc:
                raise NatsAccessError(
                    f"the NATS {what} {name} cannot be read ({exc.strerror})"
                ) from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise NatsAccessError("a NATS TLS certificate needs its key, and a key its certificate")
        return self

    def options(self) -> dict[str, Any]:
        """nats-py's ``connect`` arguments for this access."""
        options: dict[str, Any] = {"inbox_prefix": inbox_prefix(self.identity)}
        if self.seed_file is not None:
            options["nkeys_seed"] = self.seed_file
        if self.tls_ca is not None or self.tls_cert is not None:
            context = ssl.create_default_context(cafile=self.tls_ca)
            if self.tls_cert is not None:
                context.load_cert_chain(self.tls_cert, self.tls_key)
            options["tls"] = context
        return options


@dataclass
class NatsState:
    """What readiness needs to know about the connection."""

    name: str
    connected: bool = False
    closed: bool = False
    last_error: str | None = None
    reconnects: int = 0
    closing: bool = False  # set before a deliberate close


async def connect_nats(url: str, state: NatsState, access: NatsAccess) -> Client:
    """Connect as ``access`` says to the first server that answers of ``url``, which may list
    several separated by commas (the nodes of a cluster); ``state`` follows the connection
    from then on."""

    refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_error(exc: Exception) -> None:
        state.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("nats error", extra={"error": state.last_error})
        why = _refusal(exc)
        if why is not None and not refused.done():  # before the first connection
            refused.set_result(why)

    async def on_disconnected() -> None:
        state.connected = False
        if not state.closing:
            log.warning("nats disconnected")

    async def on_reconnected() -> None:
        state.connected = True
        state.reconnects += 1
        log.info("nats reconnected")

    async def on_closed() -> None:
        state.connected = False
        state.closed = True
        if state.closing:
            log.info("nats connection closed")
        else:
            log.error("nats connection closed unexpectedly")

    connecting = asyncio.ensure_future(
        nats.connect(
            servers=[server.strip() for server in url.split(",") if server.strip()],
            name=state.name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            connect_timeout=2,
            ping_interval=10,
            max_outstanding_pings=3,
            pending_size=0,
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            closed_cb=on_closed,
            **access.options(),
        )
    )
    # nats-py tries forever, also at first; a refusal of who we are ends the attempt.
    either: list[asyncio.Future[Any]] = [connecting, refused]
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if not connecting.done():
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
        raise NatsRefused(f"NATS at {url} refused {access.identity}: {refused.result()}")
    refused.cancel()
    client = connecting.result()
    state.connected = True
    return client


def stream_config(spec: StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=spec.max_age or EVENT_RETENTION_SECONDS,
        allow_direct=True,
    )


_SUBJECTS_OVERLAP = 10065


class StreamsOverlap(RuntimeError):
    """A stream cannot be created: another captures its subjects."""


async def retire_legacy_streams(js: JetStreamContext) -> list[str]:
    """Delete the streams of earlier versions that are there; the names deleted. Only the
    ``admin`` identity may."""
    retired = []
    for name in LEGACY_STREAMS:
        try:
            await js.delete_stream(name)
        except NotFoundError:
            continue
        retired.append(name)
    return retired


async def ensure_streams(
    js: JetStreamContext, replicas: int, streams: tuple[StreamSpec, ...]
) -> None:
    """Create or update the streams, idempotently: each service does it for its own streams at
    start (its identity may touch no other)."""
    for spec in streams:
        config = stream_config(spec, replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError as exc:
                if exc.err_code == _SUBJECTS_OVERLAP:
                    raise StreamsOverlap(
                        f"stream {spec.name}: its subjects overlap an existing stream's (one "
                        "of an earlier version? `procure bus upgrade` deletes those)"
                    ) from exc
                raise
        else:
            await js.update_stream(config)
