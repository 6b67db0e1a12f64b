"""Revoked bearer tokens, as every service process knows them (decision 23).

An admin revokes one token (its ``jti``) or every token of a subject issued before a time,
through the contracts service (``/v1/revocations``), which audits the revocation and publishes
it as an event of identity's own (``identity.token.revoked``, ``identity.subject.revoked``)
on the stream ``IDENTITY``. Every process that serves an API keeps them all in memory
(``Revocations``) and checks each request's token against them, after the signature:

- ``RevocationFeed.start`` subscribes to the stream's subjects, then reads the stream from its
  first message to its last, before the process serves: a restarted service knows every
  revocation still in force;
- the subscription brings each new revocation within milliseconds of its publication;
- ``RevocationFeed.run`` reads the stream again after a reconnection to NATS (what was
  published meanwhile) and every ``resync`` seconds.

Applying a revocation twice changes nothing, so reading one again is harmless. A revocation
matters only while a token it stops may still be alive: ``keep`` seconds (the longest lifetime
the service accepts, and the clocks' skew) after the revocation, or after the time a subject's
tokens were revoked before. The stream keeps them a week, longer than any token may live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from procure_shared.aio import sleep_or_stop
from procure_shared.events.envelope import Envelope, decode_envelope
from procure_shared.events.identity import SubjectRevoked, TokenRevoked
from procure_shared.events.registry import SUBJECT_REVOKED, TOKEN_REVOKED
from procure_shared.events.streams import IDENTITY, StreamSpec, stranger

__all__ = ["RevocationFeed", "Revocations"]

log = logging.getLogger("procure.revocations")


@dataclass
class Revocations:
    """The revocations in force: token ids, and per subject the time before which its tokens
    were issued. ``keep``: seconds a revocation stays in force."""

    keep: float
    clock: Callable[[], float] = time.time
    applied: int = 0  # revocation events applied (repeats included)
    _tokens: dict[str, float] = field(default_factory=dict)  # jti -> when revoked
    _subjects: dict[str, float] = field(default_factory=dict)  # sub -> issued before

    def revoke_token(self, jti: str, at: float) -> None:
        self._tokens[jti] = max(at, self._tokens.get(jti, at))

    def revoke_subject(self, subject: str, before: float) -> None:
        self._subjects[subject] = max(before, self._subjects.get(subject, before))

    def refusal(self, subject: str, jti: str | None, issued_at: float) -> str | None:
        """Why a token of ``subject`` with id ``jti`` issued at ``issued_at`` is refused; None
        when it is not revoked."""
        if jti is not None and jti in self._tokens:
            return "the token was revoked"
        before = self._subjects.get(subject)
        if before is not None and issued_at < before:
            return "the token was revoked: every token of its subject issued before then was"
        return None

    def apply(self, envelope: Envelope) -> None:
        """Take in a revocation event (one of identity's; others are ignored)."""
        if envelope.type == TOKEN_REVOKED.type:
            token = envelope.decode_data(TokenRevoked)
            self.revoke_token(token.jti, token.revoked_at.timestamp())
        elif envelope.type == SUBJECT_REVOKED.type:
            subject = envelope.decode_data(SubjectRevoked)
            self.revoke_subject(subject.subject, subject.issued_before.timestamp())
        else:
            return
        self.applied += 1

    def prune(self) -> int:
        """Forget the revocations no token alive can need; how many were forgotten."""
        horizon = self.clock() - self.keep
        tokens = [jti for jti, at in self._tokens.items() if at < horizon]
        subjects = [sub for sub, before in self._subjects.items() if before < horizon]
        for jti in tokens:
            del self._tokens[jti]
        for sub in subjects:
            del self._subjects[sub]
        return len(tokens) + len(subjects)

    def __len__(self) -> int:
        return len(self._tokens) + len(self._subjects)


@dataclass
class RevocationFeed:
    """Keeps ``revocations`` up with the ``IDENTITY`` stream."""

    nc: Client
    js: JetStreamContext
    revocations: Revocations
    stream: StreamSpec = IDENTITY
    resync: float = 30.0
    read_to: int = 0  # the stream's last sequence read
    _subscription: Subscription | None = None
    _reconnects: int = 0
    _made: datetime | None = None  # when the stream read was created

    async def start(self) -> None:
        """Subscribe, then read what the stream holds: done, the process knows every
        revocation in force, and hears of each new one."""
        if self._subscription is None:
            self._subscription = await self.nc.subscribe(self.stream.subjects[0], cb=self._heard)
            self._reconnects = self._reconnect_count()
        await self.read()

    async def read(self) -> int:
        """Read the stream from where the last read ended; how many messages were read."""
        try:
            info = await self.js.stream_info(self.stream.name)
        except NotFoundError:
            return 0  # not created yet: no revocation was ever made
        last = info.state.last_seq
        made = info.created
        if made != self._made or last < self.read_to:
            self.read_to, self._made = 0, made  # a stream made anew: read it all again
        count = 0
        sequence = max(self.read_to + 1, info.state.first_seq)
        while sequence <= last:
            try:
                message = await self.js.get_msg(
                    self.stream.name, seq=sequence, subject=self.stream.subjects[0], next=True
                )
            except NotFoundError:
                break  # the rest expired meanwhile
            if message.seq is None or message.data is None:
                break
            self._take(message.subject or "", message.data)
            count += 1
            sequence = message.seq + 1
        self.read_to = max(self.read_to, last)
        self.revocations.prune()
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Read the stream again after each reconnection and every ``resync`` seconds."""
        waited = 0.0
        try:
            while not await sleep_or_stop(stop, 1.0):
                waited += 1.0
                reconnects = self._reconnect_count()
                if reconnects == self._reconnects and waited < self.resync:
                    continue
                try:
                    await self.read()
                except Exception as exc:  # NATS away: the next turn tries again
                    log.warning("revocations not read", extra={"error": repr(exc)})
                    continue
                self._reconnects, waited = reconnects, 0.0
        finally:
            if self._subscription is not None:
                with contextlib.suppress(Exception):
                    await self._subscription.unsubscribe()

    def _reconnect_count(self) -> int:
        return int(self.nc.stats.get("reconnects", 0))

    async def _heard(self, message: Msg) -> None:
        self._take(message.subject, message.data)

    def _take(self, subject: str, data: bytes) -> None:
        try:
            envelope = decode_envelope(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("not a revocation", extra={"subject": subject, "error": str(exc)})
            return
        why = stranger(self.stream, subject=subject, source=envelope.source, type=envelope.type)
        if why is not None:
            log.warning("not a revocation", extra={"subject": subject, "error": why})
            return
        try:
            self.revocations.apply(envelope)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("not a revocation", extra={"subject": subject, "error": str(exc)})
