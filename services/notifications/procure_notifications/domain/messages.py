"""What an alert says by mail: one event (or a day of them, for a digest) as a plain-text and
an HTML part. Pure: the envelope in, the words out; the Message-ID is fixed by the delivery, so
a mail sent twice (an outcome lost) carries the same one and mail servers can drop the copy."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping, Sequence
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import msgspec

from procure_shared.events.envelope import Envelope

__all__ = ["MAIL_DOMAIN", "digest_message", "event_message", "message_id"]

MAIL_DOMAIN = "notifications.procure"


def message_id(key: str) -> str:
    return f"<{key}@{MAIL_DOMAIN}>"


def _data(envelope: Envelope) -> Mapping[str, Any]:
    try:
        data = msgspec.json.decode(envelope.data)
    except msgspec.DecodeError:
        return {}
    return data if isinstance(data, dict) else {"data": data}


def _value(v: Any) -> str:
    if isinstance(v, dict | list):
        return msgspec.json.encode(v).decode()
    return str(v)


def _headline(e: Envelope) -> str:
    return f"{e.type} on {e.subject} ({e.time:%Y-%m-%d %H:%M} UTC)"


def _text(e: Envelope) -> str:
    lines = [_headline(e), ""]
    lines += [f"  {k}: {_value(v)}" for k, v in _data(e).items()]
    lines += ["", f"event {e.id}, sequence {e.sequence}"]
    return "\n".join(lines)


def _html(e: Envelope) -> str:
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(_value(v))}</td></tr>"
        for k, v in _data(e).items()
    )
    return (
        f"<h3>{html.escape(_headline(e))}</h3><table>{rows}</table>"
        f"<p><small>event {html.escape(e.id)}, sequence {e.sequence}</small></p>"
    )


def _message(
    *, key: str, sender: str, to: str, subject: str, text: str, body_html: str, when: Any
) -> EmailMessage:
    m = EmailMessage()
    m["Message-ID"] = message_id(key)
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = format_datetime(when)
    m["Auto-Submitted"] = "auto-generated"
    m.set_content(text)
    m.add_alternative(f"<!doctype html><html><body>{body_html}</body></html>", subtype="html")
    return m


def event_message(
    *, delivery_id: str, envelope: Envelope, subscription: str, sender: str, to: str
) -> EmailMessage:
    """One mail for one event; its Message-ID is the delivery's id."""
    footer = f"\n\nSent for your subscription “{subscription}”."
    return _message(
        key=delivery_id,
        sender=sender,
        to=to,
        subject=f"[Procure] {envelope.type}: {envelope.subject}",
        text=_text(envelope) + footer,
        body_html=_html(envelope) + f"<p>{html.escape(footer.strip())}</p>",
        when=envelope.time,
    )


def digest_message(
    *,
    subscription_id: str,
    day: date,
    delivery_ids: Sequence[str],
    envelopes: Sequence[Envelope],
    subscription: str,
    sender: str,
    to: str,
) -> EmailMessage:
    """One mail for a subscription's events of one day. Its Message-ID names both and the
    deliveries in it: the same mail sent again has the same one; a second digest for the day
    (an event that arrived late) has another."""
    digest = hashlib.sha256(",".join(sorted(delivery_ids)).encode()).hexdigest()[:12]
    title = f"{len(envelopes)} event{'s' if len(envelopes) != 1 else ''} on {day:%Y-%m-%d}"
    footer = f"Daily digest of your subscription “{subscription}”."
    return _message(
        key=f"digest.{subscription_id}.{day:%Y%m%d}.{digest}",
        sender=sender,
        to=to,
        subject=f"[Procure] {title}",
        text="\n\n".join([title, *(_text(e) for e in envelopes), footer]),
        body_html=f"<h2>{html.escape(title)}</h2>"
        + "<hr>".join(_html(e) for e in envelopes)
        + f"<p>{html.escape(footer)}</p>",
        when=max(e.time for e in envelopes),
    )
