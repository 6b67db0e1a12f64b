"""The notifications service's own options, read from the environment once, in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from procure_notifications.domain.retries import RetryPolicy
from procure_notifications.senders.email import SmtpSettings
from procure_notifications.storage.sealing import DEV_SECRETS_KEY, SecretBox, box_of
from procure_shared.settings import ServiceOptions

__all__ = [
    "ENV_NAMES",
    "OPTIONS",
    "NotificationsOptions",
    "options_from_env",
    "secrets_refusal",
]


class NotificationsOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The notifications service's options; each field's ``Meta`` description is its entry
    in docs/configuration.md."""

    allow_loopback: Annotated[
        bool,
        msgspec.Meta(
            description="Let webhooks reach loopback addresses (and plain http to them): for "
            "tests and `procure up` only, never in production."
        ),
    ] = False
    webhook_timeout: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=60,
            description="Seconds a delivery attempt may take: a webhook's request, or an "
            "email's exchange with the mail server.",
        ),
    ] = 15.0
    retry_first_delay: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Seconds before a failed delivery is tried again the first time; "
            "each later wait doubles, up to `PROCURE_RETRY_MAX_DELAY`.",
        ),
    ] = 5.0
    retry_max_delay: Annotated[
        float,
        msgspec.Meta(gt=0, description="The longest wait (seconds) between two attempts."),
    ] = 6 * 3600.0
    retry_horizon: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Seconds after its first attempt past which a failing delivery is not "
            "tried again: it is a dead letter.",
        ),
    ] = 3 * 86400.0
    retry_jitter: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            lt=1,
            description="The share by which each wait between attempts varies, up or down, so "
            "that retries spread out.",
        ),
    ] = 0.2
    secret_grace: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="How long (seconds) a webhook's previous secret still signs after a "
            "rotation.",
        ),
    ] = 86400.0
    delivery_concurrency: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=1024, description="Delivery attempts (webhooks, emails) at once per process."
        ),
    ] = 64
    delivery_poll: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=60,
            description="Seconds between looks for due retries (new deliveries wake the "
            "workers at once).",
        ),
    ] = 1.0
    stream_heartbeat: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=300,
            description="Seconds a live event stream (`/v1/events/stream`) may stay silent "
            "before it sends a keep-alive comment.",
        ),
    ] = 15.0
    subscriptions_per_owner: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=100000,
            description="The most subscriptions one owner (a token's subject, for one buyer) "
            "may have; deleted ones do not count. One more is refused (422).",
        ),
    ] = 50
    digest_hour: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=23,
            description="The hour (UTC) at which daily digests of the day before go out.",
        ),
    ] = 7
    secrets_key: Annotated[
        str | None,
        msgspec.Meta(
            description="The Fernet keys (comma-separated, each 32 url-safe base64-encoded "
            "bytes) that seal webhook signing secrets in the database: the first seals, every "
            "one opens; at start the delivery worker reseals every secret with the first. "
            "Required outside development mode; unset in development mode: a public "
            "development key."
        ),
    ] = None
    smtp_host: Annotated[str, msgspec.Meta(description="The mail server alerts go through.")] = (
        "127.0.0.1"
    )
    smtp_port: Annotated[
        int, msgspec.Meta(ge=1, le=65535, description="The mail server's port.")
    ] = 25
    smtp_sender: Annotated[
        str, msgspec.Meta(description="The sender (`From`) of alert emails.")
    ] = "Procure alerts <alerts@procure.invalid>"
    smtp_username: Annotated[
        str | None,
        msgspec.Meta(description="The user name to log in to the mail server; unset: no login."),
    ] = None
    smtp_password: Annotated[
        str | None, msgspec.Meta(description="The password to log in to the mail server.")
    ] = None
    smtp_starttls: Annotated[
        bool,
        msgspec.Meta(
            description="Upgrade the plain connection to the mail server with STARTTLS "
            "(usually port 587)."
        ),
    ] = False
    smtp_tls: Annotated[
        bool,
        msgspec.Meta(
            description="Connect to the mail server with TLS at once (implicit TLS, usually "
            "port 465)."
        ),
    ] = False

    def secret_box(self) -> SecretBox:
        """What seals and opens signing secrets: ``secrets_key``'s keys, or the public
        development key when it is unset (``secrets_refusal`` refuses that outside
        development mode)."""
        return box_of(_keys(self.secrets_key) or (DEV_SECRETS_KEY,))

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=self.retry_first_delay,
            max_delay=self.retry_max_delay,
            horizon=self.retry_horizon,
            jitter=self.retry_jitter,
        )

    def smtp(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_sender,
            username=self.smtp_username,
            password=self.smtp_password,
            starttls=self.smtp_starttls,
            tls=self.smtp_tls,
            timeout=self.webhook_timeout,
        )


def _keys(value: str | None) -> tuple[str, ...]:
    return tuple(k.strip() for k in (value or "").split(",") if k.strip())


def secrets_refusal(options: NotificationsOptions, *, dev_mode: bool) -> str | None:
    """Why the service may not start with these keys, or None. Fails closed: outside
    development mode the secrets need a key of their own."""
    keys = _keys(options.secrets_key)
    try:
        box_of(keys or (DEV_SECRETS_KEY,))
    except ValueError as exc:
        return f"PROCURE_SECRETS_KEY holds a key that is not a Fernet key: {exc}"
    if dev_mode:
        return None
    if not keys:
        return (
            "PROCURE_SECRETS_KEY is not set: webhook signing secrets are sealed with it "
            "(generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`), or PROCURE_DEV_MODE=true on a "
            "development machine"
        )
    if DEV_SECRETS_KEY in keys:
        return (
            "PROCURE_SECRETS_KEY holds the public development key, which anyone can read; "
            "use a key of your own, or PROCURE_DEV_MODE=true on a development machine"
        )
    return None


ENV_NAMES = {
    "allow_loopback": "PROCURE_WEBHOOK_ALLOW_LOOPBACK",
    "webhook_timeout": "PROCURE_WEBHOOK_TIMEOUT",
    "retry_first_delay": "PROCURE_RETRY_FIRST_DELAY",
    "retry_max_delay": "PROCURE_RETRY_MAX_DELAY",
    "retry_horizon": "PROCURE_RETRY_HORIZON",
    "retry_jitter": "PROCURE_RETRY_JITTER",
    "secret_grace": "PROCURE_SECRET_GRACE",
    "delivery_concurrency": "PROCURE_DELIVERY_CONCURRENCY",
    "delivery_poll": "PROCURE_DELIVERY_POLL",
    "stream_heartbeat": "PROCURE_STREAM_HEARTBEAT",
    "subscriptions_per_owner": "PROCURE_SUBSCRIPTIONS_PER_OWNER",
    "digest_hour": "PROCURE_DIGEST_HOUR",
    "secrets_key": "PROCURE_SECRETS_KEY",
    "smtp_host": "PROCURE_SMTP_HOST",
    "smtp_port": "PROCURE_SMTP_PORT",
    "smtp_sender": "PROCURE_SMTP_SENDER",
    "smtp_username": "PROCURE_SMTP_USERNAME",
    "smtp_password": "PROCURE_SMTP_PASSWORD",
    "smtp_starttls": "PROCURE_SMTP_STARTTLS",
    "smtp_tls": "PROCURE_SMTP_TLS",
}


# What the configuration reference documents (the entry point procure.settings:notifications).
OPTIONS = ServiceOptions("notifications", NotificationsOptions, ENV_NAMES)


def options_from_env(environ: Mapping[str, str]) -> NotificationsOptions:
    return OPTIONS.from_env(environ)
