"""Mail through an SMTP server (aiosmtplib): one connection per message, the server's reply
code kept as the attempt's status."""

from __future__ import annotations

import email.policy
import io
import time
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib
import msgspec

from procure_notifications.senders.response import Response, answer, failure, since

__all__ = ["Mailer", "SmtpSettings"]


class SmtpSettings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "Procure alerts <alerts@procure.invalid>"
    username: str | None = None
    password: str | None = None
    starttls: bool = False  # upgrade a plain connection with STARTTLS
    tls: bool = False  # connect with TLS at once (port 465)
    timeout: float = 15.0


class Mailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    @property
    def sender(self) -> str:
        return self.settings.sender

    async def send(self, message: EmailMessage) -> Response:
        s = self.settings
        started = time.perf_counter()
        where = f"{s.host}:{s.port}"
        try:
            refused, reply = await aiosmtplib.send(
                _flat(message),
                sender=parseaddr(str(message["From"]))[1],
                recipients=[parseaddr(str(message["To"]))[1]],
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                start_tls=s.starttls,
                use_tls=s.tls,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            return failure(
                f"the mail server said {exc.code} {exc.message}"[:500],
                status_code=exc.code,
                address=where,
                latency_ms=since(started),
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            return failure(
                f"{type(exc).__name__}: {exc}"[:500], address=where, latency_ms=since(started)
            )
        if refused:
            code = next(iter(refused.values())).code
            return failure(
                f"recipient refused: {code}",
                status_code=code,
                address=where,
                latency_ms=since(started),
            )
        code = int(reply.split(" ", 1)[0]) if reply[:3].isdigit() else 250
        return answer(code, address=where, latency_ms=since(started))


# Header lines up to RFC 5322's hard limit, not folded at 78: Python's folding of a long
# Message-ID or Subject starts a continuation line at once, and readers keep that space.
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def _flat(message: EmailMessage) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, policy=_POLICY).flatten(message)
    return out.getvalue()
