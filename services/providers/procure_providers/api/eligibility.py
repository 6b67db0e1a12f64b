"""``POST /v1/eligibility``: the HTTP face of the NATS eligibility check, for people."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.params import JSONBody

from procure_providers.api.buyers import who
from procure_providers.api.schemas import EligibilityIn
from procure_providers.usecases.eligibility import check_eligibility
from procure_shared.events.eligibility import EligibilityAnswer
from procure_shared.http import Role, Transaction, problem_responses, requires
from procure_shared.http.domain import now

__all__ = ["eligibility"]


@post(
    "/v1/eligibility",
    tags=["eligibility"],
    opt=requires(Role.VIEWER),
    status_code=200,
    responses=problem_responses(400, 401, 403),
    summary="May these providers be awarded work in a category on a day?",
    description="For each provider: eligible or not, every reason against (`unknown`, "
    "`inactive`, `excluded`, `accreditation_missing`, `accreditation_expired`) and warnings "
    "(`performance_inadequate`: the KPI and contract are named only to the contract's buyer "
    "and admin). The same answer as `rpc.providers.eligibility` over NATS, whose warnings "
    "name no KPI or contract (its question names no buyer).",
)
async def eligibility(
    data: JSONBody[EligibilityIn], conn: Transaction, request: Request[Any, Any, Any]
) -> EligibilityAnswer:
    on = data.on or now(request).date()
    return EligibilityAnswer(
        results=await check_eligibility(conn, data.provider_ids, data.category, on, who(request))
    )
