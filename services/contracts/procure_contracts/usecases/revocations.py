"""Revoking bearer tokens (decision 23): an admin revokes one token by its id (``jti``), or
every token of a subject issued before a time. The revocation, its audit row and its event of
identity's own (``identity.token.revoked``, ``identity.subject.revoked``) are written in one
transaction; every service follows those events (``procure_shared.revocations``). A subject's
revocation also ends, at once, that subject's ops dashboard sessions started before the time.

Revocations are kept in real time, as tokens are, never in the service's (demo) clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from procure_contracts.ops import sessions as ops_sessions
from procure_contracts.storage import revocations as store
from procure_contracts.storage.revocations import Revocation
from procure_shared.db.audit import Actor, record_changes
from procure_shared.db.changes import found, publish
from procure_shared.db.postgres import Connection, Queries
from procure_shared.errors import RuleBroken
from procure_shared.events.identity import SubjectRevoked, TokenRevoked
from procure_shared.events.registry import SUBJECT_REVOKED, TOKEN_REVOKED

__all__ = ["get_revocation", "in_force", "revoke_subject", "revoke_token"]

RESOURCE = "token_revocation"
# Clocks differ: a time this far ahead of ours still counts as now.
_SKEW = timedelta(seconds=30)


def _audited(r: Revocation) -> dict[str, object]:
    return {
        "jti": r.jti,
        "subject": r.subject,
        "issuedBefore": r.issued_before.isoformat() if r.issued_before else None,
        "reason": r.reason,
        "revokedBy": r.revoked_by,
        "revokedAt": r.revoked_at.isoformat(),
    }


async def revoke_token(
    conn: Connection, jti: str, reason: str | None, *, actor: Actor, now: datetime
) -> tuple[Revocation, bool]:
    """Revoke the token ``jti``: the revocation, and whether it is new (a token revoked
    already keeps its first revocation, and nothing is published again)."""
    made = await store.add_token(conn, jti, reason, actor.id, now)
    if made is None:
        return found(await store.token(conn, jti), "revocation of token", jti), False
    await publish(
        conn,
        actor=actor,
        at=now,
        event=TOKEN_REVOKED,
        subject=jti,
        sequence=made.sequence,
        data=TokenRevoked(jti=jti, revoked_by=actor.id, revoked_at=now, reason=reason),
        resource_type=RESOURCE,
        before=None,
        after=_audited(made),
    )
    return made, True


async def revoke_subject(
    conn: Connection,
    subject: str,
    issued_before: datetime | None,
    reason: str | None,
    *,
    actor: Actor,
    now: datetime,
) -> Revocation:
    """Revoke every token of ``subject`` issued before ``issued_before`` (now, if None), and
    end its ops dashboard sessions started before then."""
    before = now if issued_before is None else issued_before
    if before > now + _SKEW:
        raise RuleBroken(
            "issuedBefore may not be later than now: a revocation stops tokens already issued",
            field="issuedBefore",
        )
    made = await store.add_subject(conn, subject, before, reason, actor.id, now)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=SUBJECT_REVOKED,
        subject=subject,
        sequence=made.sequence,
        data=SubjectRevoked(
            subject=subject,
            issued_before=before,
            revoked_by=actor.id,
            revoked_at=now,
            reason=reason,
        ),
        resource_type=RESOURCE,
        before=None,
        after=_audited(made),
    )
    ended = await store.end_sessions(conn, subject, before, now)
    await record_changes(
        conn,
        [
            (
                actor,
                now,
                "ops.session_ended",
                ops_sessions.RESOURCE,
                session_id,
                session.audited(),
                session.audited() | {"endedAt": now.isoformat(), "revocation": made.id},
            )
            for session_id, session in ended
        ],
    )
    return made


async def get_revocation(db: Queries, revocation_id: int) -> Revocation:
    known = await store.one(db, revocation_id) if 0 < revocation_id < 2**63 else None
    return found(known, "revocation", str(revocation_id))


async def in_force(
    db: Queries, now: datetime, keep: float, limit: int, before_id: int | None
) -> list[Revocation]:
    """The revocations that may still stop a live token (``keep``: the longest a token may
    live, and the clocks' skew), newest first."""
    return await store.in_force(db, now - timedelta(seconds=keep), limit, before_id)
