"""``/v1/contracts``: contracts made from awards, their options and amendments."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from procure_contracts.api.common import (
    MOVE,
    WRITE,
    AsOf,
    Search,
    ValueMax,
    ValueMin,
    after,
    ask,
    page_of,
    read_document,
    rules,
    who,
)
from procure_contracts.contracts import store
from procure_contracts.contracts import usecases as contracts
from procure_contracts.contracts.rules import Amendment, Contract, ContractOption, ContractStatus
from procure_contracts.contracts.schemas import (
    AmendmentIn,
    AmendmentList,
    CloseIn,
    ContractIn,
    ContractPage,
    ContractPatch,
    ExerciseIn,
    OptionIn,
    OptionList,
)
from procure_shared.categories import Category
from procure_shared.db.audit import AuditEntry, history
from procure_shared.errors import NotFound
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.domain import create_once, now, tagged
from procure_shared.http.pagination import Cursor, Limit
from procure_shared.http.preconditions import IdempotencyKey, IfMatch, expected_version

__all__ = ["ContractsController"]

ContractId = FromPath[uuid.UUID]
Day = Annotated[date | None, QueryParameter()]


class ContractsController(Controller):
    path = "/v1/contracts"
    tags = ["contracts"]
    opt = requires(Role.VIEWER)

    @get(responses=problem_responses(400, 401, 403), summary="List and search contracts")
    async def index(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        q: Search = None,
        status: FromQuery[ContractStatus | None] = None,
        category: Annotated[
            Category | None, QueryParameter(description="Covers a lot in this category")
        ] = None,
        provider: Annotated[
            uuid.UUID | None, QueryParameter(description="Held by this provider")
        ] = None,
        tender: FromQuery[uuid.UUID | None] = None,
        lot: FromQuery[uuid.UUID | None] = None,
        flagged: Annotated[
            bool | None,
            QueryParameter(description="Amendments past the share of the original value"),
        ] = None,
        value_min: ValueMin = None,
        value_max: ValueMax = None,
        starts_from: Annotated[date | None, QueryParameter(name="startsFrom")] = None,
        starts_to: Annotated[date | None, QueryParameter(name="startsTo")] = None,
        ends_from: Annotated[date | None, QueryParameter(name="endsFrom")] = None,
        ends_to: Annotated[date | None, QueryParameter(name="endsTo")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[ContractPage]:
        page = store.contract_page(
            store.ContractFilter(
                buyer=who(request).scope,
                after=after(cursor),
                limit=limit,
                search=q.strip() or None if q else None,
                status=status,
                value_min=value_min,
                value_max=value_max,
                category=category,
                provider_id=str(provider) if provider else None,
                tender_id=str(tender) if tender else None,
                lot_id=str(lot) if lot else None,
                flagged=flagged,
                starts_from=starts_from,
                starts_to=starts_to,
                ends_from=ends_from,
                ends_to=ends_to,
            ),
        )
        return page_of(await store.contracts.page_raw(db, page))

    @post(
        opt=WRITE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 409, 422),
        summary="Make a contract from one or more awards",
        description="A contract may rest on awards of several lots, and a lot's awards may lead "
        "to several contracts. The value defaults to the sum of the awards' values.",
    )
    async def create(
        self,
        data: JSONBody[ContractIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Contract]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: contracts.create_contract(conn, data.draft(), who=who(request), now=at),
            lambda c: f"{self.path}/{c.id}",
        )

    @get("/{contract_id:uuid}", responses=problem_responses(400, 401, 403, 404))
    async def read(
        self,
        contract_id: ContractId,
        db: Reading,
        request: Request[Any, Any, Any],
        as_of_: AsOf = None,
    ) -> Response[Contract]:
        return await read_document(
            db,
            request,
            store.contracts,
            contract_id,
            as_of_,
            what="contract",
            resource_type="contract",
        )

    @patch(
        "/{contract_id:uuid}",
        opt=WRITE,
        responses=MOVE,
        summary="Change a contract's details (If-Match)",
        description="Its terms (value, period, scope) change here only before it is signed; "
        "after that, by an amendment.",
    )
    async def update(
        self,
        contract_id: ContractId,
        data: JSONBody[ContractPatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Contract]:
        contract = await contracts.update_contract(
            conn,
            str(contract_id),
            data.changes(),
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(contract)

    @post(
        "/{contract_id:uuid}/sign",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Sign a contract, once every award's standstill has ended (If-Match)",
    )
    async def sign(
        self,
        contract_id: ContractId,
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Contract]:
        contract = await contracts.sign_contract(
            conn,
            str(contract_id),
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(contract)

    async def _close(
        self,
        request: Request[Any, Any, Any],
        conn: Transaction,
        contract_id: uuid.UUID,
        move: str,
        data: CloseIn,
        if_match: str | None,
    ) -> Response[Contract]:
        contract = await contracts.close_contract(
            conn,
            str(contract_id),
            move,
            on=data.on,
            reason=data.reason,
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(contract)

    @post(
        "/{contract_id:uuid}/complete",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Complete a signed contract (If-Match)",
    )
    async def complete(
        self,
        contract_id: ContractId,
        data: JSONBody[CloseIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Contract]:
        return await self._close(request, conn, contract_id, "complete", data, if_match)

    @post(
        "/{contract_id:uuid}/terminate",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Terminate a signed contract early, with the reason (If-Match)",
    )
    async def terminate(
        self,
        contract_id: ContractId,
        data: JSONBody[CloseIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Contract]:
        return await self._close(request, conn, contract_id, "terminate", data, if_match)

    @post(
        "/{contract_id:uuid}/cancel",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Cancel a contract that was never signed, with the reason (If-Match)",
    )
    async def cancel(
        self,
        contract_id: ContractId,
        data: JSONBody[CloseIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Contract]:
        return await self._close(request, conn, contract_id, "cancel", data, if_match)

    @get(
        "/{contract_id:uuid}/amendments",
        responses=problem_responses(401, 403, 404),
        summary="A contract's amendments, oldest first",
    )
    async def amendments(
        self, contract_id: ContractId, db: Reading, request: Request[Any, Any, Any]
    ) -> AmendmentList:
        contract = await contracts.get_contract(db, str(contract_id), who=who(request))
        return AmendmentList(items=list(contract.amendments))

    @get(
        "/{contract_id:uuid}/amendments/{amendment_id:uuid}",
        responses=problem_responses(401, 403, 404),
        summary="One amendment of a contract",
    )
    async def amendment(
        self,
        contract_id: ContractId,
        amendment_id: FromPath[uuid.UUID],
        db: Reading,
        request: Request[Any, Any, Any],
    ) -> Amendment:
        contract = await contracts.get_contract(db, str(contract_id), who=who(request))
        for item in contract.amendments:
            if item.id == str(amendment_id):
                return item
        raise NotFound(f"contract {contract_id} has no amendment {amendment_id}")

    @post(
        "/{contract_id:uuid}/amendments",
        opt=WRITE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
        summary="Amend a contract: a typed change (value, end date, scope, suppliers) and why",
        description="Answers with the contract as amended; `Location` names the amendment. A "
        "change that takes the net cumulative value of the amendments past the configured "
        "share of the original value flags the contract (`thresholdExceeded`). A supplier "
        "added must be eligible (asked of the providers service; 503 if it does not answer).",
    )
    async def amend(
        self,
        contract_id: ContractId,
        data: JSONBody[AmendmentIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Contract]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: contracts.amend_contract(
                conn,
                str(contract_id),
                data.draft(),
                ask=ask(request),
                rules_=rules(request),
                who=who(request),
                now=at,
            ),
            lambda c: f"{self.path}/{c.id}/amendments/{c.amendments[-1].id}",
        )

    @get(
        "/{contract_id:uuid}/options",
        responses=problem_responses(401, 403, 404),
        summary="A contract's options, exercised or not",
    )
    async def options(
        self, contract_id: ContractId, db: Reading, request: Request[Any, Any, Any]
    ) -> OptionList:
        contract = await contracts.get_contract(db, str(contract_id), who=who(request))
        return OptionList(items=list(contract.options))

    @post(
        "/{contract_id:uuid}/options",
        opt=WRITE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Write an option into a contract (e.g. to scale up to more areas)",
        description="Answers with the contract; `Location` names the option.",
    )
    async def add_option(
        self,
        contract_id: ContractId,
        data: JSONBody[OptionIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Contract]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: contracts.add_option(
                conn, str(contract_id), data.draft(), who=who(request), now=at
            ),
            lambda c: f"{self.path}/{c.id}/options/{c.options[-1].id}",
        )

    @get(
        "/{contract_id:uuid}/options/{option_id:uuid}",
        responses=problem_responses(401, 403, 404),
        summary="One option of a contract",
    )
    async def option(
        self,
        contract_id: ContractId,
        option_id: FromPath[uuid.UUID],
        db: Reading,
        request: Request[Any, Any, Any],
    ) -> ContractOption:
        contract = await contracts.get_contract(db, str(contract_id), who=who(request))
        for item in contract.options:
            if item.id == str(option_id):
                return item
        raise NotFound(f"contract {contract_id} has no option {option_id}")

    @post(
        "/{contract_id:uuid}/options/{option_id:uuid}/exercise",
        opt=WRITE,
        status_code=200,
        responses=MOVE,
        summary="Exercise an option of a signed contract (If-Match)",
        description="Its value joins the contract's current value; it does not count towards "
        "the amendment threshold.",
    )
    async def exercise(
        self,
        contract_id: ContractId,
        option_id: FromPath[uuid.UUID],
        data: JSONBody[ExerciseIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Contract]:
        contract = await contracts.exercise_option(
            conn,
            str(contract_id),
            str(option_id),
            data.exercise(),
            expected_version=expected_version(if_match),
            rules_=rules(request),
            who=who(request),
            now=now(request),
        )
        return tagged(contract)

    @get(
        "/{contract_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of a contract",
    )
    async def history(
        self, contract_id: ContractId, db: Reading, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        contract = await contracts.get_contract(db, str(contract_id), who=who(request))
        return list(await history(db, "contract", contract.id))
