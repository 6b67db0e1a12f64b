"""Who may connect to NATS, and what each may do there: the one place the bus's identities and
their permissions are defined (``docs/decisions/0020-nats-users-with-nkeys.md``).

Every process connects as one identity: a NATS user known by the public half of an nkey, whose
seed (the private half) the process reads from a file (``PROCURE_NATS_CREDENTIALS``). The
server's configuration lists the public keys with each one's permissions: ``authorization`` in
the configuration ``procure bus credentials`` writes beside the seeds, which the embedded
stack, the test fixtures and the deploy files include. Nothing is allowed that is not listed:

- a service publishes its own stream's subjects, the requests it makes and the answers it owes
  (``allow_responses``); it subscribes to its own inbox (``_INBOX.<identity>.>``), the
  requests it answers, the live subjects it bridges to browsers and its ``$SRV`` discovery;
- its JetStream API covers its own stream and dead-letter stream (created or updated at start)
  and its own durable consumers on the streams it consumes: create, info, next and ack, and
  reading a stored message of those streams (a dead letter's original);
- ``cli`` asks ``$SRV`` discovery; ``operator`` reads stream and consumer info (lag), and
  nothing else; ``admin``, ``tests`` and ``bench`` may do anything (a person operating the bus
  by hand, and the test and benchmark harnesses, which reset streams); the shipped deploy files
  create only ``admin`` of the three.

``docs/operations.md`` lists them (``procure bus identities``), generated from this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nkeys

from procure_shared.events.eligibility import ELIGIBILITY_SUBJECT
from procure_shared.events.streams import IDENTITY, STREAMS, StreamSpec

__all__ = [
    "IDENTITIES",
    "SERVICE_BUSES",
    "Identity",
    "ServiceBus",
    "authorization_block",
    "dead_letter_consumer",
    "dead_letter_stream",
    "identities_markdown",
    "identity",
    "inbox_prefix",
    "write_credentials",
]

INBOX = "_INBOX"
# Where the server configuration written beside the seeds is read from.
AUTHORIZATION_FILE = "authorization.conf"
SEED_SUFFIX = ".nk"
# The nodes of a cluster connect to each other (routes) as this user, with the password in
# ROUTE_PASSWORD_FILE: a route is not a client, and has no nkey.
ROUTE_USER = "procure_route"
ROUTE_PASSWORD_FILE = "route.password"  # noqa: S105 (a file name)

_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER"
_DEAD_LETTER_KINDS = ("MAX_DELIVERIES", "MSG_TERMINATED")


def inbox_prefix(name: str) -> str:
    """The identity's own inbox: replies to its requests come here, and only it may read them."""
    return f"{INBOX}.{name}"


def advisory_subjects(stream: str, consumer: str) -> list[str]:
    """The server's advisories about messages ``consumer`` of ``stream`` gave up on."""
    return [f"{_ADVISORY}.{kind}.{stream}.{consumer}" for kind in _DEAD_LETTER_KINDS]


def dead_letter_stream(service: str, consumers: Iterable[tuple[str, str]]) -> StreamSpec:
    """The stream that keeps the advisories of ``service``'s consumers ((stream, name) pairs):
    each service has its own, so that none reads another's dead letters."""
    subjects = tuple(s for stream, name in consumers for s in advisory_subjects(stream, name))
    return StreamSpec(f"DEADLETTERS_{service.upper()}", subjects, "")


def dead_letter_consumer(service: str) -> str:
    """The durable consumer of ``service``'s dead-letter stream."""
    return f"{service}__deadletters"


@dataclass(frozen=True)
class ServiceBus:
    """What a service does on the bus; its identity's permissions follow from it."""

    service: str
    stream: StreamSpec  # its own stream, which its outbox relay publishes to
    consumers: tuple[tuple[str, str], ...]  # (stream, durable consumer) it reads
    # Streams it publishes to for another producer (the contracts service for identity).
    also: tuple[StreamSpec, ...] = ()
    # Streams every process that serves its API reads whole and follows (revocations).
    follows: tuple[StreamSpec, ...] = (IDENTITY,)
    answers: tuple[str, ...] = ()  # request subjects it answers (nats.micro endpoints)
    asks: tuple[str, ...] = ()  # request subjects it sends
    live: tuple[str, ...] = ()  # core subscriptions bridged to browsers (server-sent events)
    micro: tuple[str, ...] = ()  # its nats.micro service names ($SRV discovery)

    @property
    def dead_letters(self) -> StreamSpec:
        return dead_letter_stream(self.service, self.consumers)

    @property
    def streams(self) -> tuple[StreamSpec, ...]:
        """The streams it creates and publishes to."""
        return (self.stream, *self.also)


_BY_PRODUCER = {stream.producer: stream for stream in STREAMS}

SERVICE_BUSES: tuple[ServiceBus, ...] = (
    ServiceBus(
        "contracts",
        _BY_PRODUCER["contracts"],
        consumers=(("PROVIDERS", "contracts__provider_directory"),),
        asks=(ELIGIBILITY_SUBJECT,),
        live=("contracts.>",),  # the ops dashboard's live view
        also=(IDENTITY,),  # the revocations its admin API makes
        micro=("procure_contracts",),
    ),
    ServiceBus(
        "providers",
        _BY_PRODUCER["providers"],
        consumers=(("CONTRACTS", "providers__track_record"),),
        answers=(ELIGIBILITY_SUBJECT,),
        micro=("procure_providers", "providers"),
    ),
    ServiceBus(
        "notifications",
        _BY_PRODUCER["notifications"],
        consumers=tuple(
            (stream.name, f"notifications__fanout_{stream.name.lower()}") for stream in STREAMS
        ),
        live=tuple(subject for stream in STREAMS for subject in stream.subjects),
        micro=("procure_notifications",),
    ),
)


@dataclass(frozen=True)
class Identity:
    """A NATS user: what connects with it, and what it may publish and subscribe to."""

    name: str
    purpose: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    responses: bool = False  # may answer each request it receives, once

    @property
    def inbox(self) -> str:
        return inbox_prefix(self.name)


def _own_stream(name: str) -> list[str]:
    return [f"$JS.API.STREAM.{verb}.{name}" for verb in ("INFO", "CREATE", "UPDATE")]


def _own_consumer(stream: str, name: str) -> list[str]:
    api = "$JS.API.CONSUMER"
    return [
        f"{api}.DURABLE.CREATE.{stream}.{name}",
        f"{api}.CREATE.{stream}.{name}",
        f"{api}.CREATE.{stream}.{name}.>",
        f"{api}.INFO.{stream}.{name}",
        f"{api}.MSG.NEXT.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
    ]


def _discovery(names: Sequence[str]) -> list[str]:
    """The subjects a nats.micro service listens on: every verb, for all, by name, by id."""
    verbs = ("PING", "INFO", "STATS")
    return [f"$SRV.{v}" for v in verbs] + [
        subject for name in names for subject in (f"$SRV.*.{name}", f"$SRV.*.{name}.*")
    ]


_CLI_INBOX = inbox_prefix("cli") + ".>"


def _service_identity(bus: ServiceBus) -> Identity:
    dead = bus.dead_letters
    consumers = (*bus.consumers, (dead.name, dead_letter_consumer(bus.service)))
    read = sorted({stream for stream, _ in consumers})
    publish = [
        *(subject for stream in bus.streams for subject in stream.subjects),
        *bus.asks,
        *(subject for stream in bus.streams for subject in _own_stream(stream.name)),
        *_own_stream(dead.name),
        *(subject for stream, name in consumers for subject in _own_consumer(stream, name)),
        *(f"$JS.API.STREAM.MSG.GET.{stream}" for stream in read),
        *(
            f"$JS.API.STREAM.{verb}.{stream.name}"
            for stream in bus.follows
            for verb in ("INFO", "MSG.GET")
            if stream not in bus.streams or verb != "INFO"
        ),
        # Discovery answers to the procure command: a process with two nats.micro services
        # (providers) answers one $SRV request twice, and allow_responses lets one through.
        _CLI_INBOX,
    ]
    subscribe = [
        inbox_prefix(bus.service) + ".>",
        *bus.answers,
        *bus.live,
        *(subject for stream in bus.follows for subject in stream.subjects),
        *_discovery(bus.micro),
    ]
    return Identity(
        bus.service,
        f"the {bus.service} service: its relay, consumers, responders and live views; "
        "its demo loader",
        tuple(publish),
        tuple(subscribe),
        responses=True,
    )


_EVERYTHING = (">",)

IDENTITIES: tuple[Identity, ...] = (
    *(_service_identity(bus) for bus in SERVICE_BUSES),
    Identity(
        "cli",
        "the `procure` command: `procure status` finds the running services",
        ("$SRV.PING", "$SRV.INFO"),
        (_CLI_INBOX,),
    ),
    Identity(
        "operator",
        "monitoring: reads the streams' and consumers' state (a consumer's lag), changes nothing",
        (
            "$JS.API.INFO",
            "$JS.API.STREAM.NAMES",
            "$JS.API.STREAM.LIST",
            "$JS.API.STREAM.INFO.*",
            "$JS.API.CONSUMER.NAMES.*",
            "$JS.API.CONSUMER.LIST.*",
            "$JS.API.CONSUMER.INFO.*.*",
        ),
        (inbox_prefix("operator") + ".>",),
    ),
    Identity(
        "admin",
        "a person operating the bus by hand (the nats CLI: streams, consumers, purges)",
        _EVERYTHING,
        _EVERYTHING,
    ),
    Identity(
        "tests",
        "the test suite's harness, which plays every part and resets the streams; never deployed",
        _EVERYTHING,
        _EVERYTHING,
    ),
    Identity(
        "bench",
        "the benchmarks' harness and bare baselines; never deployed",
        _EVERYTHING,
        _EVERYTHING,
    ),
)

_BY_NAME = {i.name: i for i in IDENTITIES}
SERVICES = tuple(bus.service for bus in SERVICE_BUSES)
# What a deployment (make up, the deploy files) creates; tests and bench are the harnesses'.
DEPLOYED = (*SERVICES, "cli", "operator", "admin")


def identity(name: str) -> Identity:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise LookupError(f"no NATS identity {name!r} (there are {', '.join(_BY_NAME)})") from None


def service_bus(service: str) -> ServiceBus:
    for bus in SERVICE_BUSES:
        if bus.service == service:
            return bus
    raise LookupError(f"no service {service!r} on the bus")


def authorization_block(public_keys: Mapping[str, str]) -> str:
    """The server's ``authorization`` block: one nkey user an identity, with its permissions.

    Only the public keys are in it: the server checks a client's signature of its nonce, so
    the configuration holds nothing secret."""
    users = []
    for name, key in public_keys.items():
        who = identity(name)
        permissions: dict[str, object] = {
            "publish": {"allow": list(who.publish)},
            "subscribe": {"allow": list(who.subscribe)},
        }
        if who.responses:
            permissions["allow_responses"] = True
        users.append({"nkey": key, "permissions": permissions})
    body = ",\n".join(
        f"    # {name}\n    {json.dumps(u)}" for name, u in zip(public_keys, users, strict=False)
    )
    return f"authorization {{\n  users = [\n{body}\n  ]\n}}\n"


def _seed_of(path: Path) -> bytes:
    return path.read_bytes().strip()


def public_key(seed: bytes) -> str:
    pair = nkeys.from_seed(bytearray(seed))
    try:
        key: bytes = pair.public_key
        return key.decode()
    finally:
        pair.wipe()


def write_credentials(folder: Path, names: Sequence[str] = DEPLOYED) -> dict[str, str]:
    """Make (once) a seed for each identity in ``folder``, ``<name>.nk`` readable by its owner
    alone, and write the server's ``authorization.conf`` for them; the public key of each.

    A seed already there is kept: restarting with the same folder keeps every credential."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys: dict[str, str] = {}
    for name in names:
        identity(name)  # a name that is no identity is an error, not a new user
        path = folder / f"{name}{SEED_SUFFIX}"
        if not path.exists():
            seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
            _write_private(path, seed + b"\n")
        keys[name] = public_key(_seed_of(path))
    _write_private(folder / AUTHORIZATION_FILE, authorization_block(keys).encode(), replace=True)
    route = folder / ROUTE_PASSWORD_FILE
    if not route.exists():
        _write_private(route, secrets.token_urlsafe(32).encode() + b"\n")
    return keys


def route_password(folder: Path) -> str:
    """The password the nodes of a cluster use between them."""
    return (folder / ROUTE_PASSWORD_FILE).read_text().strip()


def _write_private(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``path`` whole, readable by its owner alone from the first byte."""
    draft = path.with_name(path.name + ".part")
    draft.unlink(missing_ok=True)
    with os.fdopen(os.open(draft, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "wb") as out:
        out.write(data)
    if replace:
        os.replace(draft, path)
    else:
        # Two writers of one folder: the first seed stays, the second draft goes.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()


def identities_markdown() -> str:
    """The identities and their permissions, for docs/operations.md."""
    lines = [
        "| identity | connects | publishes | subscribes to |",
        "|---|---|---|---|",
    ]
    for who in IDENTITIES:
        publish = "<br>".join(f"`{s}`" for s in who.publish)
        if who.responses:
            publish += "<br>one answer to each request it receives"
        subscribe = "<br>".join(f"`{s}`" for s in who.subscribe)
        lines.append(f"| `{who.name}` | {who.purpose} | {publish} | {subscribe} |")
    return "\n".join(lines) + "\n"
