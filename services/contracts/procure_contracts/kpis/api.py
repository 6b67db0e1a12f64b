"""``/v1/contracts/{id}/kpis`` and ``/v1/kpis``: a contract's KPIs (Procurement Act 2023
s.52), their observations and ratings (s.71)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from procure_contracts.api.common import MOVE, WRITE, AsOf, after, page_of, read_document, who
from procure_contracts.kpis import store
from procure_contracts.kpis import usecases as kpis
from procure_contracts.kpis.rules import Kpi, Observation
from procure_contracts.kpis.schemas import (
    KpiIn,
    KpiList,
    KpiPatch,
    Label,
    ObservationIn,
    ObservationPage,
)
from procure_shared.db.audit import AuditEntry, history
from procure_shared.errors import NotFound
from procure_shared.http import Reading, Role, Transaction, problem_responses, requires
from procure_shared.http.domain import create_once, now, principal, tagged
from procure_shared.http.pagination import Cursor, Limit
from procure_shared.http.preconditions import IdempotencyKey, IfMatch, expected_version, idempotent

__all__ = ["ContractKpisController", "KpisController"]

ContractId = FromPath[uuid.UUID]
KpiId = FromPath[uuid.UUID]
# Operations staff record observations; the commercial team, which defines the KPIs, too.
OBSERVE = requires(Role.OPS, Role.COMMERCIAL)
RATING = (
    "Ratings use the statutory words (`label`: Good, Approaching target, Requires improvement, "
    "Inadequate, Other; `rating` is the code) with an `explanation` of what was compared."
)


class ContractKpisController(Controller):
    path = "/v1/contracts/{contract_id:uuid}/kpis"
    tags = ["kpis"]
    opt = requires(Role.VIEWER)

    @get(
        responses=problem_responses(401, 403, 404),
        summary="A contract's KPIs, with their current ratings",
        description=RATING,
    )
    async def index(
        self, contract_id: ContractId, db: Reading, request: Request[Any, Any, Any]
    ) -> Response[KpiList]:
        items = await store.kpis_of(db, str(contract_id), buyer=who(request).scope)
        if items is None:
            raise NotFound(f"no contract {contract_id}")
        listed: Response[Any] = Response(
            b'{"items":' + items.encode() + b"}", media_type="application/json"
        )
        return listed

    @post(
        opt=WRITE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Define a KPI of a pending or active contract",
        description='A target figure (`{"kind": "value"}`) or range (`{"kind": '
        '"range"}`), none for a qualitative KPI; a direction; thresholds as percentages of '
        "the target (defaults by direction); an optional dimension (e.g. area) whose values "
        "observations name, and how one period's observations combine (`sum`, or `mean`). A "
        "contract worth more than £5m is signed only with at least three KPIs (s.52).",
    )
    async def create(
        self,
        contract_id: ContractId,
        data: JSONBody[KpiIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Kpi]:
        return await create_once(
            conn,
            request,
            idempotency_key,
            lambda at: kpis.define_kpi(
                conn, str(contract_id), data.draft(), who=who(request), now=at
            ),
            lambda k: f"/v1/kpis/{k.id}",
        )


class KpisController(Controller):
    path = "/v1/kpis"
    tags = ["kpis"]
    opt = requires(Role.VIEWER)

    @get(
        "/{kpi_id:uuid}",
        responses=problem_responses(400, 401, 403, 404),
        summary="A KPI and its current rating",
        description=RATING,
    )
    async def read(
        self,
        kpi_id: KpiId,
        db: Reading,
        request: Request[Any, Any, Any],
        as_of_: AsOf = None,
    ) -> Response[Kpi]:
        return await read_document(
            db, request, store.kpis, kpi_id, as_of_, what="KPI", resource_type="kpi"
        )

    @patch(
        "/{kpi_id:uuid}",
        opt=WRITE,
        responses=MOVE,
        summary="Change a KPI's definition (If-Match)",
        description="On a pending or active contract. The rating is worked out again; if it "
        "moves, `contracts.kpi.rating_changed` follows `contracts.kpi.updated` (and the ETag "
        "moves by two). An observed KPI keeps its dimension's values (more may be added).",
    )
    async def update(
        self,
        kpi_id: KpiId,
        data: JSONBody[KpiPatch],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Kpi]:
        kpi = await kpis.update_kpi(
            conn,
            str(kpi_id),
            data.changes(),
            expected_version=expected_version(if_match),
            who=who(request),
            now=now(request),
        )
        return tagged(kpi)

    @get(
        "/{kpi_id:uuid}/history",
        responses=problem_responses(401, 403, 404),
        summary="The audit trail of a KPI (its definition, observations and ratings)",
    )
    async def history(
        self, kpi_id: KpiId, db: Reading, request: Request[Any, Any, Any]
    ) -> list[AuditEntry]:
        kpi = await kpis.get_kpi(db, str(kpi_id), who=who(request))
        return list(await history(db, "kpi", kpi.id))

    @get(
        "/{kpi_id:uuid}/observations",
        responses=problem_responses(400, 401, 403, 404),
        summary="A KPI's observations, the latest recorded first",
        description="`endsFrom` and `endsTo` (inclusive) filter by the end of the period.",
    )
    async def observations(
        self,
        kpi_id: KpiId,
        db: Reading,
        request: Request[Any, Any, Any],
        dimension_value: Annotated[Label | None, QueryParameter(name="dimensionValue")] = None,
        ends_from: Annotated[date | None, QueryParameter(name="endsFrom")] = None,
        ends_to: Annotated[date | None, QueryParameter(name="endsTo")] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[ObservationPage]:
        start = after(cursor)  # a bad cursor is 400 whether or not the KPI exists
        kpi = await kpis.get_kpi(db, str(kpi_id), who=who(request))
        page = store.observation_page(
            store.ObservationFilter(
                kpi_id=kpi.id,
                after=start,
                limit=limit,
                dimension_value=dimension_value,
                ends_from=ends_from,
                ends_to=ends_to,
            )
        )
        return page_of(await store.observations.page_raw(db, page))

    @get(
        "/{kpi_id:uuid}/observations/{observation_id:uuid}",
        responses=problem_responses(401, 403, 404),
        summary="One observation of a KPI",
    )
    async def observation(
        self,
        kpi_id: KpiId,
        observation_id: FromPath[uuid.UUID],
        db: Reading,
        request: Request[Any, Any, Any],
    ) -> Observation:
        return await kpis.get_observation(db, str(kpi_id), str(observation_id), who=who(request))

    @post(
        "/{kpi_id:uuid}/observations",
        opt=OBSERVE,
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Record a KPI's figure for a period",
        description="On a signed contract (also after it ended), for a period within its "
        "dates, naming one of the KPI's dimension values if it has a dimension. The KPI's "
        "rating is its latest period's: each dimension value's latest observation, combined "
        "(sum or mean). `contracts.kpi.observed`, then `contracts.kpi.rating_changed` if the "
        "rating moved. A later observation of the same period and dimension value corrects "
        "an earlier one.",
    )
    async def observe(
        self,
        kpi_id: KpiId,
        data: JSONBody[ObservationIn],
        conn: Transaction,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Observation]:
        at = now(request)
        return await idempotent(
            conn,
            request,
            owner=principal(request).sub,
            key=idempotency_key,
            now=at,
            create=lambda: kpis.record_observation(
                conn, str(kpi_id), data.draft(), who=who(request), now=at
            ),
            headers=lambda o: {"Location": f"{self.path}/{kpi_id}/observations/{o.id}"},
        )
