"""Process settings, read from the environment once, in ``__main__``.

A service reads its own database (``DATABASE_URL``), ``NATS_URL``, the token settings and its
options. Nothing else reads the environment: ``Settings`` is passed down explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec

from procure_shared.events.streams import LONGEST_TOKEN_LIFETIME

__all__ = [
    "DEV_JWT_SECRET",
    "ENV_NAMES",
    "OidcIssuer",
    "ServiceOptions",
    "Settings",
    "SettingsError",
    "settings_from_env",
    "trust_refusal",
]

DEV_JWT_SECRET = "procure-development-secret-change-me-0123456789"  # noqa: S105 (dev default)


class SettingsError(ValueError):
    """The environment does not describe a runnable process."""


# The algorithms an OpenID Connect issuer's keys may sign with (never HS256 nor none).
Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
RoleName = Literal["viewer", "commercial", "ops", "admin"]
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class OidcIssuer(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """An OpenID Connect issuer whose access tokens the API accepts, and how its claims make a
    Procure principal (an entry of ``PROCURE_OIDC_ISSUERS``)."""

    issuer: str  # its ``iss``; discovery at {issuer}/.well-known/openid-configuration
    audience: str | None = None  # the ``aud`` its tokens name for Procure; None: jwt_audience
    roles_claim: str = "roles"  # a claim, or a dotted path (realm_access.roles)
    roles: dict[str, RoleName] | None = None  # claim value -> role; None: the role names
    buyer_claim: str | None = None  # the claim naming the buyer a user acts for
    buyer: str | None = None  # or one buyer for everyone this issuer signs in
    subject_claim: str = "sub"
    # The claim naming the token (what an admin revokes one token by): Entra ID's `uti`.
    token_id_claim: str = "jti"  # noqa: S105 (a claim's name)
    algorithms: tuple[Algorithm, ...] = ("RS256", "ES256")

    def __post_init__(self) -> None:
        url = urlsplit(self.issuer)
        if not (url.scheme == "https" or (url.scheme == "http" and url.hostname in _LOOPBACK)):
            raise ValueError(
                f"the issuer {self.issuer!r} is not an https URL (http only on loopback)"
            )
        if self.buyer is not None and self.buyer_claim is not None:
            raise ValueError(f"the issuer {self.issuer} has both buyer and buyerClaim: give one")
        if not self.algorithms:
            raise ValueError(f"the issuer {self.issuer} allows no algorithm")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service reads; each field's ``Meta`` description is its entry in
    docs/configuration.md (``procure configuration``)."""

    service: str
    database_url: Annotated[
        str,
        msgspec.Meta(
            description="The service's own PostgreSQL database (a `postgresql://` URL), with "
            "the service's own role as its user: not the database's owner and not a superuser, "
            "which a service refuses outside development mode because they could change the "
            "audit. `python -m procure_<service> migrate` creates the database if it does not "
            "exist, and the role."
        ),
    ]
    database_owner_url: Annotated[
        str | None,
        msgspec.Meta(
            description="The same database with its owner as the user, read by `python -m "
            "procure_<service> migrate` alone: migrations run as the owner, which then creates "
            "the role of `DATABASE_URL` if it is missing (with that URL's password) and grants "
            "it what the service needs, and no change or deletion of `audit_log` rows. The "
            'owner needs `CREATEDB` and `CREATEROLE` (docs/operations.md, "Database roles"). '
            "Unset: migrations run as the user of `DATABASE_URL`."
        ),
    ] = None
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
    dev_mode: Annotated[
        bool,
        msgspec.Meta(
            description="Development mode, for a development machine only (`make up` and the "
            "tests set it): a service with no `PROCURE_JWT_SECRET` then accepts tokens signed "
            "with the public development secret. Off, a service that serves the API refuses "
            "to start unless it has a secret of its own or an OpenID Connect issuer to trust "
            "(`PROCURE_OIDC_ISSUERS`), and never accepts the public secret."
        ),
    ] = False
    jwt_secret: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=32,
                description="The HS256 secret bearer tokens are signed with (the same for "
                "every service and for whoever issues the tokens; `openssl rand -hex 32`). "
                "Unset: no HS256 token is accepted, except, with `PROCURE_DEV_MODE`, one "
                "signed with the public development secret.",
            ),
        ]
        | None
    ) = None
    jwt_issuer: Annotated[
        str, msgspec.Meta(description="The issuer (`iss`) an HS256 bearer token must name.")
    ] = "procure-dev"
    jwt_audience: Annotated[
        str,
        msgspec.Meta(
            description="The audience (`aud`) a bearer token must name (an OpenID Connect "
            "issuer's too, unless its entry names its own)."
        ),
    ] = "procure"
    jwt_max_lifetime: Annotated[
        int,
        msgspec.Meta(
            ge=60,
            le=LONGEST_TOKEN_LIFETIME,
            description="Seconds a bearer token may live at the most, from any issuer: a "
            "token whose `exp` is further than this from its `iat`, or that lacks either, is "
            "refused. At most a week: a revocation is kept that long.",
        ),
    ] = 12 * 3600
    oidc_issuers: (
        Annotated[
            tuple[OidcIssuer, ...],
            msgspec.Meta(
                description="The OpenID Connect issuers whose RS256 and ES256 access tokens "
                "the API accepts, as a JSON array of objects: `issuer` (its `iss`, where "
                "`/.well-known/openid-configuration` is found; https, or http on loopback), "
                "and optionally `audience` (else `PROCURE_JWT_AUDIENCE`), `rolesClaim` (a "
                "claim or dotted path holding a list or a space-separated string; default "
                "`roles`), `roles` (claim value to Procure role: `viewer`, `commercial`, "
                "`ops`, `admin`; else the values are Procure's role names), `buyerClaim` or "
                "`buyer` (the buyer's claim, or one buyer for everyone the issuer signs in), "
                "`subjectClaim` (default `sub`), `tokenIdClaim` (the token's id, by which "
                'one token is revoked; default `jti`), `algorithms` (default `["RS256", '
                '"ES256"]`). docs/operations.md has Entra ID, Okta and Keycloak examples.'
            ),
        ]
        | None
    ) = None
    oidc_refresh_interval: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Seconds between two fetches of an issuer's keys for tokens that name "
            "a key it did not publish (a key rotation is followed at once; random key ids "
            "cannot make the service hammer the issuer).",
        ),
    ] = 60.0
    oidc_keys_max_age: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Seconds an issuer's fetched keys are used before they are fetched "
            "again (a key the issuer withdrew stops verifying new tokens by then).",
        ),
    ] = 3600.0
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
    rate_limit_writes: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="Writes (POST, PUT, PATCH, DELETE) one bearer token may make per second "
            "on each process; more are 429 with Retry-After. 0: no limit.",
        ),
    ] = 2000
    rate_limit_streams: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="Event streams (Server-Sent Events) one bearer token may open per "
            "minute on each process; more are 429 with Retry-After. 0: no limit.",
        ),
    ] = 120

    def __post_init__(self) -> None:
        named = [i.issuer for i in self.oidc_issuers or ()]
        if len(set(named)) < len(named):
            raise ValueError("PROCURE_OIDC_ISSUERS names an issuer twice")
        if self.jwt_issuer in named:
            raise ValueError(
                f"PROCURE_JWT_ISSUER {self.jwt_issuer} is also an OpenID Connect issuer: the "
                "HS256 tokens' issuer must be a name of their own"
            )

    @property
    def signing_secret(self) -> str | None:
        """The HS256 secret the API verifies tokens with: ``jwt_secret``, or the public
        development secret in development mode; None: no HS256 token is accepted. The public
        secret is never trusted outside development mode, even when set explicitly."""
        if self.jwt_secret is None:
            return DEV_JWT_SECRET if self.dev_mode else None
        if self.jwt_secret == DEV_JWT_SECRET and not self.dev_mode:
            return None
        return self.jwt_secret


def trust_refusal(settings: Settings) -> str | None:
    """Why a process that serves the API must not start with ``settings`` (None: it may). It
    fails closed: outside development mode it needs a secret of its own or an issuer."""
    if settings.dev_mode:
        return None
    if settings.jwt_secret == DEV_JWT_SECRET:
        return (
            "PROCURE_JWT_SECRET is the public development secret, which anyone can sign "
            "tokens with: set a secret of your own (openssl rand -hex 32), or "
            "PROCURE_DEV_MODE=true on a development machine"
        )
    if settings.jwt_secret is None and not settings.oidc_issuers:
        return (
            "no bearer token could be verified: set PROCURE_JWT_SECRET (a secret of your own, "
            "at least 32 characters) or PROCURE_OIDC_ISSUERS (an OpenID Connect issuer to "
            "trust), or PROCURE_DEV_MODE=true on a development machine"
        )
    return None


# Settings field -> environment variable.
ENV_NAMES: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "database_owner_url": "DATABASE_OWNER_URL",
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
    "jwt_max_lifetime": "PROCURE_JWT_MAX_LIFETIME",
    "dev_mode": "PROCURE_DEV_MODE",
    "oidc_issuers": "PROCURE_OIDC_ISSUERS",
    "oidc_refresh_interval": "PROCURE_OIDC_REFRESH_INTERVAL",
    "oidc_keys_max_age": "PROCURE_OIDC_KEYS_MAX_AGE",
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
    "rate_limit_writes": "PROCURE_RATE_LIMIT_WRITES",
    "rate_limit_streams": "PROCURE_RATE_LIMIT_STREAMS",
}


def settings_from_env(service: str, environ: Mapping[str, str]) -> Settings:
    """Build the settings of ``service`` from an environment mapping (``os.environ`` in main)."""
    raw: dict[str, object] = {"service": service}
    for field, name in ENV_NAMES.items():
        value = environ.get(name)
        if value is not None and value != "":
            raw[field] = _midnight(value) if field in _INSTANTS else value
    if "oidc_issuers" in raw:
        try:
            raw["oidc_issuers"] = msgspec.json.decode(str(raw["oidc_issuers"]))
        except msgspec.DecodeError as exc:
            raise SettingsError(f"PROCURE_OIDC_ISSUERS is not JSON: {exc}") from exc
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
        # msgspec says "... at `$.http_port`" (or "`$.oidc_issuers[0].issuer`"): name the
        # environment variable instead.
        message = str(exc)
        for field, name in names.items():
            message = re.sub(rf"`\$\.{field}((?:\[[^\]]*\]|\.\w+)*)`", rf"{name}\1", message)
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
    # The fields whose variable holds JSON (an object or array), as PROCURE_OIDC_ISSUERS does.
    json_fields: frozenset[str] = frozenset()

    def from_env(self, environ: Mapping[str, str]) -> Options:
        """The options from the environment (``os.environ`` in main): an unset or empty
        variable leaves its default; a bad value is a ``SettingsError`` naming the variable."""
        raw: dict[str, object] = {
            field: environ[name] for field, name in self.env_names.items() if environ.get(name)
        }
        for field in self.json_fields & raw.keys():
            try:
                raw[field] = msgspec.json.decode(str(raw[field]))
            except msgspec.DecodeError as exc:
                raise SettingsError(f"{self.env_names[field]} is not JSON: {exc}") from exc
        return _convert(raw, self.kind, self.env_names)
