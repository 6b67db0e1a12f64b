"""``/v1/exclusions/{id}``: one exclusion and its lifting."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from procure_providers.api.buyers import who
from procure_providers.api.schemas import LiftIn
from procure_providers.domain.exclusions import Exclusion
from procure_providers.usecases import exclusions
from procure_providers.usecases.history import history_of
from procure_shared.db.audit import AuditEntry
from procure_shared.http import Role, Transaction, problem_responses, requires
from procure_shared.http.domain import actor, now, tagged
from procure_shared.http.preconditions import IfMatch, expected_version

__all__ = ["ExclusionsController"]

ExclusionId = FromPath[uuid.UUID]


class ExclusionsController(Controller):
    path = "/v1/exclusions"
    tags = ["exclusions"]
    opt = requires(Role.VIEWER)

    @get("/{exclusion_id:uuid}", responses=problem_responses(401, 403, 404))
    async def read(self, exclusion_id: ExclusionId, conn: Transaction) -> Response[Exclusion]:
        return tagged(await exclusions.get_exclusion(conn, str(exclusion_id)))

    @post(
        "/{exclusion_id:uuid}/lift",
        opt=requires(Role.ADMIN),
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 428),
        summary="Lift an exclusion (admin, If-Match)",
        description="An exclusion recorded by a buyer's admin, or by an admin of no buyer, may "
        "be lifted by any admin.",
    )
    async def lift(
        self,
        exclusion_id: ExclusionId,
        data: JSONBody[LiftIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Exclusion]:
        at = now(request)
        lifted = await exclusions.lift_exclusion(
            conn,
            str(exclusion_id),
            on=data.on or at.date(),
            reason=data.reason,
            expected_version=expected_version(if_match),
            actor=actor(request),
            who=who(request),
            now=at,
        )
        return tagged(lifted)

    @get(
        "/{exclusion_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of an exclusion",
        description="An entry made by another buyer's user names its actor as `another buyer`, "
        "with no roles, buyer or correlation id (admin sees every entry as it is).",
    )
    async def history(
        self, exclusion_id: ExclusionId, conn: Transaction, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        found = await exclusions.get_exclusion(conn, str(exclusion_id))
        return await history_of(conn, "exclusion", found.id, who(request))
