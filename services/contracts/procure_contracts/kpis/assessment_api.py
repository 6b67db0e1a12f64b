"""``/v1/contracts/{id}/assessment``: a contract performance assessment (Procurement Act 2023
s.71) for a period, as JSON or, with ``Accept: text/csv``, as CSV (a header row, then a row per
KPI and one per dimension value of each)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.openapi.spec import Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.openapi.spec.media_type import OpenAPIMediaType
from litestar.params import FromPath, QueryParameter

from procure_contracts.api.common import who
from procure_contracts.kpis import usecases as kpis
from procure_contracts.kpis.assessment import Assessment
from procure_shared.http import Reading, Role, problem_responses, requires
from procure_shared.http.domain import now
from procure_shared.http.problems import ProblemException

__all__ = ["AssessmentController", "to_csv"]

CSV = "text/csv"
COLUMNS = (
    "contract_id",
    "contract_title",
    "buyer_id",
    "suppliers",
    "from",
    "to",
    "kpi_id",
    "kpi_name",
    "unit",
    "direction",
    "target",
    "dimension",
    "dimension_value",
    "period_start",
    "period_end",
    "value",
    "rating",
    "explanation",
)


@dataclass
class JsonOrCsv(Operation):
    """Documents the CSV form of the 200 answer beside the JSON one."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        content = getattr(ok, "content", None)
        if content is not None:
            content[CSV] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))


def _cell(value: object) -> str:
    """A cell's text; text a spreadsheet would run as a formula is quoted with an apostrophe."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not _number(text)):
        return "'" + text
    return text


def _number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def to_csv(a: Assessment) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(COLUMNS)
    suppliers = "; ".join(s.name or s.id for s in a.suppliers)
    head = [a.contract_id, a.title, a.buyer.id, suppliers, a.start, a.end]
    for k in a.kpis:
        kpi = [k.kpi_id, k.name, k.unit, k.direction, k.target_text, k.dimension]
        period = [k.period_start, k.period_end]
        whole = (*head, *kpi, None, *period, k.value, k.label, k.explanation)
        writer.writerow([_cell(v) for v in whole])
        for figure in k.by_dimension:
            row = (*head, *kpi, figure.dimension_value, *period, figure.value, None, None)
            writer.writerow([_cell(v) for v in row])
    return out.getvalue()


class AssessmentController(Controller):
    path = "/v1/contracts/{contract_id:uuid}/assessment"
    tags = ["kpis"]
    opt = requires(Role.VIEWER)

    @get(
        responses=problem_responses(400, 401, 403, 404, 406, 422),
        operation_class=JsonOrCsv,
        summary="A contract performance assessment for a period (s.71), JSON or CSV",
        description="Each KPI with its target and the figure of its latest period ending from "
        "`from` to `to` (inclusive): its observations combined, per dimension value too, "
        "rated with the statutory words and explained (Other when nothing was observed). "
        "`Accept: text/csv` answers CSV: a header row, a row per KPI, then one per dimension "
        "value. Suppliers are named as the provider directory knows them.",
    )
    async def read(
        self,
        contract_id: FromPath[uuid.UUID],
        db: Reading,
        request: Request[Any, Any, Any],
        start: Annotated[date, QueryParameter(name="from", description="First day")],
        end: Annotated[date, QueryParameter(name="to", description="Last day")],
    ) -> Response[Assessment]:
        media = request.accept.best_match(["application/json", CSV])
        if media is None:
            raise ProblemException(406, "the assessment is application/json or text/csv")
        found = await kpis.assess_contract(
            db, str(contract_id), start, end, who=who(request), now=now(request)
        )
        if media == CSV:
            name = f"assessment-{found.contract_id}-{start}-{end}.csv"
            answer: Response[Any] = Response(
                to_csv(found),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
            return answer
        return Response(found)
