"""``/v1/contracts/{id}/milestones`` and ``/v1/milestones``: a contract's dated deliverables
(delivery, reporting, payment) and their settlement."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from procure_contracts.api.common import MOVE, AsOf, after, page_of, read_document, who
from procure_contracts.api.schemas import ReasonIn
from procure_contracts.milestones import store
from procure_contracts.milestones import usecases as milestones
from procure_contracts.milestones.rules import Milestone, MilestoneKind, MilestoneStatus
from procure_contracts.milestones.schemas import (
    MetIn,
    MilestoneIn,
    MilestoneList,
    MilestonePage,
    MilestonePatch,
    MilestoneSummary,
    NotMetIn,
)
from procure_contracts.ops.common import scope_of
from procure_shared.db.audit import AuditEntry, history
from procure_shared.errors import NotFound
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.domain import create_once, now, tagged
from procure_shared.http.pagination import Cursor, Limit
from procure_shared.http.preconditions import IdempotencyKey, IfMatch, expected_version

__all__ = ["ContractMilestonesController", "MilestonesController"]

ContractId = FromPath[uuid.UUID]
MilestoneId = FromPath[uuid.UUID]
# Operations staff record milestones and their outcome; the commercial team, which makes the
# contracts, may schedule and record them too.
RECORD = requires(Role.OPS, Role.COMMERCIAL)


class ContractMilestonesController(Controller):
    path = "/v1/contracts/{contract_id:uuid}/milestones"
    tags = ["milestones"]
    opt = requires(Role.VIEWER)

    @get(
        responses=problem_responses(401, 403, 404),
        summary="A contract's milestones, by due date",
    )
    async def index(
        self, contract_id: ContractId, db: Reading, request: Request[Any, Any, Any]
    ) -> Response[MilestoneList]:
        items = await store.milestones_of(db, str(contract_id), buyer=who(request).scope)
        if items is None:
            raise NotFound(f"no contract {contract_id}")
        body = b'{"items":' + items.encode() + b"}"
        listed: Response[Any] = Response(body, media_type="application/json")
        return listed

    @post(
        opt=RECORD,
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Schedule a milestone of a pending or active contract",
        description="A delivery, a report or a payment (payments carry an amount), optionally "
        "of one of the contract's lots, with an optional planned quantity (e.g. pupils to "
        "reach). The due date is not before the contract starts, nor more than a year after it "
        "ends. A closed contract takes no new milestones (409).",
    )
    async def create(
        self,
        contract_id: ContractId,
        data: JSONBody[MilestoneIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Milestone]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: milestones.schedule_milestone(
                conn, str(contract_id), data.draft(), who=who(request), now=at
            ),
            lambda m: f"/v1/milestones/{m.id}",
        )


class MilestonesController(Controller):
    path = "/v1/milestones"
    tags = ["milestones"]
    opt = requires(Role.VIEWER)

    @get(
        responses=problem_responses(400, 401, 403),
        summary="List milestones across contracts",
        description="Newest first. `dueFrom` and `dueTo` are inclusive.",
    )
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        contract: FromQuery[uuid.UUID | None] = None,
        lot: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[MilestoneStatus | None] = None,
        kind: FromQuery[MilestoneKind | None] = None,
        provider: Annotated[
            uuid.UUID | None, QueryParameter(description="A supplier of the contract")
        ] = None,
        due_from: Annotated[date | None, QueryParameter(name="dueFrom")] = None,
        due_to: Annotated[date | None, QueryParameter(name="dueTo")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[MilestonePage]:
        page = store.milestone_page(
            store.MilestoneFilter(
                buyer=who(request).scope,
                after=after(cursor),
                limit=limit,
                status=status,
                contract_id=str(contract) if contract else None,
                lot_id=str(lot) if lot else None,
                kind=kind,
                provider_id=str(provider) if provider else None,
                due_from=due_from,
                due_to=due_to,
            )
        )
        return page_of(await store.milestones.page_raw(db, page))

    @get(
        "/summary",
        responses=problem_responses(400, 401, 403),
        summary="How many milestones are overdue and due soon",
        description="Scheduled milestones of pending and active contracts you may see: "
        "`overdue` were due before today (the service clock's), `dueSoon` fall due from today "
        "to `dueSoonDays` days ahead (`days`, else the service's `PROCURE_MILESTONE_LEAD_DAYS`). "
        "What `procure status` shows.",
    )
    async def summary(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        days: Annotated[int | None, QueryParameter(ge=1, le=366)] = None,
    ) -> MilestoneSummary:
        scope = scope_of(request, days=days)
        overdue, due_soon = await store.due_counts(
            db, buyer=scope.buyer, today=scope.today, horizon=scope.horizon
        )
        return MilestoneSummary(
            today=scope.today, overdue=overdue, due_soon=due_soon, due_soon_days=scope.days
        )

    @get("/{milestone_id:uuid}", responses=problem_responses(400, 401, 403, 404))
    async def read(
        self,
        milestone_id: MilestoneId,
        db: Reading,
        request: Request[Any, Any, Any],
        as_of_: AsOf = None,
    ) -> Response[Milestone]:
        return await read_document(
            db,
            request,
            store.milestones,
            milestone_id,
            as_of_,
            what="milestone",
            resource_type="milestone",
        )

    @patch(
        "/{milestone_id:uuid}",
        opt=RECORD,
        responses=MOVE,
        summary="Change a scheduled milestone (If-Match)",
        description="Its title, description, due date, planned quantity and (payment) amount; "
        "a settled milestone does not change (409).",
    )
    async def update(
        self,
        milestone_id: MilestoneId,
        data: JSONBody[MilestonePatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Milestone]:
        milestone = await milestones.update_milestone(
            conn,
            str(milestone_id),
            data.changes(),
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(milestone)

    @post(
        "/{milestone_id:uuid}/met",
        opt=RECORD,
        status_code=200,
        responses=MOVE,
        summary="Record a milestone met, in full or in part, with its evidence (If-Match)",
        description="`partially: true` records it partially met (it may be met in full later). "
        "Met late is met: `metOn` after `dueOn`. A payment milestone records an OCDS "
        "transaction (`transactions`): by default what is left to pay, to the contract's only "
        "supplier; a partial payment names what was `paid`, a contract with several suppliers "
        "the `payeeId`.",
    )
    async def met(
        self,
        milestone_id: MilestoneId,
        data: JSONBody[MetIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Milestone]:
        at = now(request)
        milestone = await milestones.meet_milestone(
            conn,
            str(milestone_id),
            data.settlement(at.date()),
            expected_version=expected_version(if_match),
            who=who(request),
            now=at,
        )
        return tagged(milestone)

    @post(
        "/{milestone_id:uuid}/not-met",
        opt=RECORD,
        status_code=200,
        responses=MOVE,
        summary="Record a scheduled milestone not met, optionally why (If-Match)",
    )
    async def not_met(
        self,
        milestone_id: MilestoneId,
        data: JSONBody[NotMetIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Milestone]:
        return await self._close(
            conn, request, milestone_id, MilestoneStatus.NOT_MET, data.reason, if_match
        )

    @post(
        "/{milestone_id:uuid}/waive",
        opt=RECORD,
        status_code=200,
        responses=MOVE,
        summary="Waive a milestone (or the rest of a partly met one), with the reason (If-Match)",
    )
    async def waive(
        self,
        milestone_id: MilestoneId,
        data: JSONBody[ReasonIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Milestone]:
        return await self._close(
            conn, request, milestone_id, MilestoneStatus.WAIVED, data.reason, if_match
        )

    async def _close(
        self,
        conn: Any,
        request: Request[Any, Any, Any],
        milestone_id: uuid.UUID,
        outcome: MilestoneStatus,
        reason: str | None,
        if_match: str | None,
    ) -> Response[Milestone]:
        milestone = await milestones.close_milestone(
            conn,
            str(milestone_id),
            outcome,
            reason,
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(milestone)

    @get(
        "/{milestone_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of a milestone",
    )
    async def history(
        self, milestone_id: MilestoneId, db: Reading, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        milestone = await milestones.get_milestone(db, str(milestone_id), who=who(request))
        return list(await history(db, "milestone", milestone.id))
