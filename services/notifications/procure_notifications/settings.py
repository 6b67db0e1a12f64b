"""The notifications service's own options, read from the environment once, in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from procure_notifications.domain.retries import RetryPolicy
from procure_notifications.senders.email import SmtpSettings
from procure_shared.settings import read_options

__all__ = ["ENV_NAMES", "NotificationsOptions", "options_from_env"]


class NotificationsOptions(msgspec.Struct, frozen=True, kw_only=True):
    # Webhooks to loopback addresses (and plain http to them): for tests and `make up` only.
    allow_loopback: bool = False
    webhook_timeout: Annotated[float, msgspec.Meta(gt=0, le=60)] = 15.0
    retry_first_delay: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    retry_max_delay: Annotated[float, msgspec.Meta(gt=0)] = 6 * 3600.0
    retry_horizon: Annotated[float, msgspec.Meta(gt=0)] = 3 * 86400.0
    retry_jitter: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.2
    # How long the previous secret still signs after a rotation (seconds).
    secret_grace: Annotated[float, msgspec.Meta(ge=0)] = 86400.0
    delivery_concurrency: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 64
    # Seconds between looks for due retries (new deliveries wake the workers at once).
    delivery_poll: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    # Seconds a live event stream may stay silent before it sends a keep-alive comment.
    stream_heartbeat: Annotated[float, msgspec.Meta(gt=0, le=300)] = 15.0
    # The hour (UTC) at which daily digests of the day before go out.
    digest_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 7
    # The mail server alerts go through.
    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 25
    smtp_sender: str = "Procure alerts <alerts@procure.invalid>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False

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
    "digest_hour": "PROCURE_DIGEST_HOUR",
    "smtp_host": "PROCURE_SMTP_HOST",
    "smtp_port": "PROCURE_SMTP_PORT",
    "smtp_sender": "PROCURE_SMTP_SENDER",
    "smtp_username": "PROCURE_SMTP_USERNAME",
    "smtp_password": "PROCURE_SMTP_PASSWORD",
    "smtp_starttls": "PROCURE_SMTP_STARTTLS",
    "smtp_tls": "PROCURE_SMTP_TLS",
}


def options_from_env(environ: Mapping[str, str]) -> NotificationsOptions:
    return read_options(NotificationsOptions, ENV_NAMES, environ)
