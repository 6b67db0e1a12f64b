"""The revocations a service holds (``procure_shared.revocations.Revocations``): which tokens
they refuse, how events change them, and when they are forgotten."""

from __future__ import annotations

from datetime import UTC, datetime

from procure_shared.events.envelope import Envelope
from procure_shared.events.identity import SubjectRevoked, TokenRevoked
from procure_shared.events.registry import CONTRACT_SIGNED, SUBJECT_REVOKED, TOKEN_REVOKED
from procure_shared.revocations import Revocations

HOUR = 3600.0
TOKEN = "the token was revoked"
SUBJECT = "the token was revoked: every token of its subject issued before then was"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def held(now: float = T0) -> tuple[Revocations, Clock]:
    clock = Clock(now)
    return Revocations(keep=12 * HOUR, clock=clock), clock


def event(spec_type: str, data: object) -> Envelope:
    return Envelope.new(
        service=spec_type.split(".")[0],
        type=spec_type,
        subject="x",
        time=datetime.fromtimestamp(T0, UTC),
        sequence=1,
        data=data,
    )


def test_a_revoked_token_id_is_refused_and_other_ids_of_the_subject_are_not() -> None:
    revocations, _ = held()
    revocations.revoke_token("jti-1", T0)
    assert revocations.refusal("alice", "jti-1", T0 - HOUR) == TOKEN
    assert revocations.refusal("alice", "jti-2", T0 - HOUR) is None
    assert revocations.refusal("alice", None, T0 - HOUR) is None


def test_a_subject_revocation_refuses_its_tokens_issued_before_the_time_only() -> None:
    revocations, _ = held()
    revocations.revoke_subject("alice", T0)
    assert revocations.refusal("alice", None, T0 - 1) == SUBJECT
    assert revocations.refusal("alice", "any", T0 - HOUR) == SUBJECT
    assert revocations.refusal("alice", None, T0) is None  # issued at the time: a new token
    assert revocations.refusal("bob", None, T0 - HOUR) is None


def test_a_later_subject_revocation_moves_the_time_on_and_an_earlier_one_not_back() -> None:
    revocations, _ = held()
    revocations.revoke_subject("alice", T0)
    revocations.revoke_subject("alice", T0 - HOUR)  # read again, or out of order
    assert revocations.refusal("alice", None, T0 - 10) == SUBJECT
    revocations.revoke_subject("alice", T0 + HOUR)
    assert revocations.refusal("alice", None, T0 + 10) == SUBJECT


def test_revocation_events_are_applied_once_in_effect_however_often_they_are_read() -> None:
    revocations, _ = held()
    at = datetime.fromtimestamp(T0, UTC)
    token = event(TOKEN_REVOKED.type, TokenRevoked(jti="j", revoked_by="admin", revoked_at=at))
    subject = event(
        SUBJECT_REVOKED.type,
        SubjectRevoked(subject="bob", issued_before=at, revoked_by="admin", revoked_at=at),
    )
    for envelope in (token, subject, token, subject):
        revocations.apply(envelope)
    assert len(revocations) == 2
    assert revocations.applied == 4
    assert revocations.refusal("alice", "j", T0) == TOKEN
    assert revocations.refusal("bob", None, T0 - 1) == SUBJECT


def test_events_that_are_not_revocations_change_nothing() -> None:
    revocations, _ = held()
    revocations.apply(event(CONTRACT_SIGNED.type, {"id": "c"}))
    assert len(revocations) == 0
    assert revocations.applied == 0


def test_revocations_are_forgotten_once_no_token_they_stop_can_be_alive() -> None:
    revocations, clock = held()
    revocations.revoke_token("old", T0)
    revocations.revoke_subject("carol", T0 - HOUR)
    revocations.revoke_token("new", T0 + HOUR)
    clock.now = T0 + 12 * HOUR - 1
    assert revocations.prune() == 1  # carol's: every token issued before T0 - 1 h is dead
    assert revocations.refusal("x", "old", T0 - HOUR) == TOKEN
    clock.now = T0 + 12 * HOUR + 1
    assert revocations.prune() == 1
    assert revocations.refusal("x", "old", T0 - HOUR) is None
    assert revocations.refusal("x", "new", T0) == TOKEN
