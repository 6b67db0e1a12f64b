"""``/v1/revocations``: an admin revokes bearer tokens (decision 23), one by its id (``jti``)
or every token of a subject issued before a time. Every service refuses them within two
seconds (they follow identity's events), and a restarted service reads them before it serves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from procure_contracts.api.schemas import Instant
from procure_contracts.storage.revocations import Revocation
from procure_contracts.usecases import revocations
from procure_shared.errors import RuleBroken
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.auth import SKEW, BearerAuth
from procure_shared.http.domain import actor
from procure_shared.http.pagination import Cursor, Limit, decode_cursor, next_cursor

__all__ = ["RevocationsController"]

PATH = "/v1/revocations"
_NAME = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
_ID = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]  # a bigint
_REASON = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]


class RevocationIn(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"
):
    """Name ``jti`` (one token) or ``subject`` (every token of it issued before
    ``issuedBefore``, now when left out), not both."""

    jti: _NAME | None = None
    subject: _NAME | None = None
    issued_before: Instant | None = None
    reason: _REASON | None = None

    def checked(self) -> RevocationIn:
        if (self.jti is None) == (self.subject is None):
            raise RuleBroken(
                "name the token (jti) or the subject whose tokens to revoke, not both",
                errors=[("jti", "one of jti and subject"), ("subject", "one of jti and subject")],
            )
        if self.jti is not None and self.issued_before is not None:
            raise RuleBroken(
                "issuedBefore goes with subject: a jti names one token", field="issuedBefore"
            )
        return self


class RevocationOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: int
    kind: Literal["token", "subject"]
    revoked_by: str
    revoked_at: datetime
    jti: str | None = None
    subject: str | None = None
    issued_before: datetime | None = None
    reason: str | None = None

    @classmethod
    def of(cls, r: Revocation) -> RevocationOut:
        return cls(
            id=r.id,
            kind="token" if r.jti is not None else "subject",
            revoked_by=r.revoked_by,
            revoked_at=r.revoked_at,
            jti=r.jti,
            subject=r.subject,
            issued_before=r.issued_before,
            reason=r.reason,
        )


class RevocationPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[RevocationOut]
    next_cursor: str | None


def _keep(request: Request[Any, Any, Any]) -> float:
    """How long a revocation matters: the longest a token lives here, and the clocks' skew."""
    auth: BearerAuth = request.app.state.auth
    return auth.max_lifetime + SKEW


class RevocationsController(Controller):
    path = PATH
    tags = ["revocations"]
    opt = requires(Role.ADMIN)

    @post(
        status_code=201,
        responses={
            200: ResponseSpec(
                data_container=RevocationOut,
                description="The token was revoked already: its first revocation.",
            ),
            **problem_responses(400, 401, 403, 422),
        },
        summary="Revoke a token, or every token of a subject issued before a time",
        description="Admin only. Every service refuses the tokens within two seconds. A token "
        "revoked already answers 200 with its first revocation. A subject's revocation also "
        "ends its ops dashboard sessions started before the time.",
    )
    async def revoke(
        self,
        data: JSONBody[RevocationIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
    ) -> Response[RevocationOut]:
        wanted = data.checked()
        who, now = actor(request), datetime.now(UTC)
        if wanted.jti is not None:
            made, new = await revocations.revoke_token(
                conn, wanted.jti, wanted.reason, actor=who, now=now
            )
        else:
            assert wanted.subject is not None  # checked()
            made = await revocations.revoke_subject(
                conn, wanted.subject, wanted.issued_before, wanted.reason, actor=who, now=now
            )
            new = True
        return Response(
            RevocationOut.of(made),
            status_code=201 if new else 200,
            headers={"Location": f"{PATH}/{made.id}"},
        )

    @get(
        responses=problem_responses(400, 401, 403),
        summary="The revocations in force, newest first",
        description="Admin only. Those that may still stop a token alive: a revocation is "
        "kept as long as the longest a token may live here.",
    )
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> RevocationPage:
        before_id = decode_cursor(cursor, 1, tuple[_ID])[0] if cursor is not None else None
        found = await revocations.in_force(db, datetime.now(UTC), _keep(request), limit, before_id)
        items = [RevocationOut.of(r) for r in found]
        return RevocationPage(items, next_cursor(items, limit, lambda r: [r.id]))

    @get("/{revocation_id:int}", responses=problem_responses(400, 401, 403, 404))
    async def one(self, db: Reading, revocation_id: FromPath[int]) -> RevocationOut:
        return RevocationOut.of(await revocations.get_revocation(db, revocation_id))
