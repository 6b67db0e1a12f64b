"""``/v1/accreditations/{id}``: one accreditation, its changes and its revocation."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody

from procure_providers.api.buyers import who
from procure_providers.api.schemas import AccreditationPatch, RevokeIn
from procure_providers.domain.accreditations import Accreditation
from procure_providers.usecases import accreditations
from procure_providers.usecases.history import history_of
from procure_shared.db.audit import AuditEntry
from procure_shared.http import Role, Transaction, problem_responses, requires
from procure_shared.http.domain import actor, now, tagged
from procure_shared.http.preconditions import IfMatch, expected_version

__all__ = ["AccreditationsController"]

AccreditationId = FromPath[uuid.UUID]


class AccreditationsController(Controller):
    path = "/v1/accreditations"
    tags = ["accreditations"]
    opt = requires(Role.VIEWER)

    @get("/{accreditation_id:uuid}", responses=problem_responses(401, 403, 404))
    async def read(
        self, accreditation_id: AccreditationId, conn: Transaction
    ) -> Response[Accreditation]:
        return tagged(await accreditations.get_accreditation(conn, str(accreditation_id)))

    @patch(
        "/{accreditation_id:uuid}",
        opt=requires(Role.COMMERCIAL),
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 428),
        summary="Change an accreditation's dates or evidence (If-Match)",
        description="Moving `validTo` renews it: expiry notices start afresh for the new date. "
        "Only an admin or the buyer that recorded the accreditation may change it: for anyone "
        "else it is 404.",
    )
    async def update(
        self,
        accreditation_id: AccreditationId,
        data: JSONBody[AccreditationPatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Accreditation]:
        changed = await accreditations.amend_accreditation(
            conn,
            str(accreditation_id),
            data.changes(),
            expected_version=expected_version(if_match),
            actor=actor(request),
            who=who(request),
            now=now(request),
        )
        return tagged(changed)

    @post(
        "/{accreditation_id:uuid}/revoke",
        opt=requires(Role.COMMERCIAL),
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 428),
        summary="Withdraw an accreditation before its end (If-Match)",
        description="Only an admin or the buyer that recorded the accreditation may revoke it: "
        "for anyone else it is 404.",
    )
    async def revoke(
        self,
        accreditation_id: AccreditationId,
        data: JSONBody[RevokeIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Accreditation]:
        revoked = await accreditations.revoke_accreditation(
            conn,
            str(accreditation_id),
            reason=data.reason,
            expected_version=expected_version(if_match),
            actor=actor(request),
            who=who(request),
            now=now(request),
        )
        return tagged(revoked)

    @get(
        "/{accreditation_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of an accreditation (its expiry notices included)",
        description="An entry made by another buyer's user names its actor as `another buyer`, "
        "with no roles, buyer or correlation id (admin sees every entry as it is).",
    )
    async def history(
        self, accreditation_id: AccreditationId, conn: Transaction, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        found = await accreditations.get_accreditation(conn, str(accreditation_id))
        return await history_of(conn, "accreditation", found.id, who(request))
