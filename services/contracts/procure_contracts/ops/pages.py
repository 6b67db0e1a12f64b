"""``/ops``: the dashboard (contracts by RAG status, milestones overdue and due soon, KPI
ratings, recent events, filters) and ``/ops/contracts/{id}``: a contract's timeline. HTML
rendered here; the page script only adds live updates (``live.py``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, Parameter
from litestar.response import Template

from procure_contracts.contracts import store as contract_store
from procure_contracts.contracts.rules import ContractStatus
from procure_contracts.contracts.timeline import timeline
from procure_contracts.milestones import store as milestone_store
from procure_contracts.ops import kpis_store as ops_kpis
from procure_contracts.ops import store as ops
from procure_contracts.ops.common import PAGE_HEADERS, SEEN, scope_of, to_sign_in, today
from procure_contracts.tenders import store as tender_store
from procure_shared.errors import NotFound
from procure_shared.http import Reading
from procure_shared.http.domain import principal

__all__ = ["OpsController"]

RAGS = ("red", "amber", "green")
PAGE = 50
Days = Annotated[int | None, Parameter(ge=1, le=366, description="The due-soon window")]
Choice = Annotated[str | None, Parameter(max_length=100)]
# Asked by the page script: only the panels, to put in place of the old ones.
FRAGMENT = "x-ops-fragment"


def _after(text: str | None) -> tuple[int, date, str] | None:
    """The board's keyset cursor: ``rank~next-due~id`` (anything else, a rank the database's
    ``int`` cannot take included, starts at the top)."""
    try:
        rank, due, last = (text or "").split("~")
        key = int(rank), date.fromisoformat(due), str(uuid.UUID(last))
    except ValueError:
        return None
    return key if -(2**31) <= key[0] < 2**31 else None


def _cursor(key: tuple[int, date, str] | None) -> str | None:
    return None if key is None else f"{key[0]}~{key[1].isoformat()}~{key[2]}"


def _not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Any]:
    """A contract this viewer cannot see (another buyer's) is as one that does not exist."""
    del request
    return Template(
        "ops/not_found.html",
        context={"message": exc.message},
        headers=PAGE_HEADERS,
        status_code=404,
    )


class OpsController(Controller):
    path = "/ops"
    include_in_schema = False
    opt = SEEN
    exception_handlers = {NotAuthorizedException: to_sign_in, NotFound: _not_found}

    @get()
    async def dashboard(
        self,
        db: Reading,
        request: Request[Any, Any, Any],
        buyer: Choice = None,
        provider: Choice = None,
        status: Choice = None,
        rag: Choice = None,
        days: Days = None,
        after: Choice = None,
    ) -> Template:
        scope = scope_of(
            request,
            buyer=buyer,
            provider=provider,
            status=status if status in set(ContractStatus) else None,
            days=days,
        )
        chosen_rag = rag if rag in RAGS else None
        user = principal(request)
        panels_only = request.headers.get(FRAGMENT) == "panels"
        # One round of statements for the whole page, on as many pooled connections.
        (board, overdue, due_soon, kpis), (providers, buyers, events) = await asyncio.gather(
            asyncio.gather(
                ops.board(db, scope, rag=chosen_rag, after=_after(after), limit=PAGE),
                ops.due(db, scope, overdue=True),
                ops.due(db, scope, overdue=False),
                ops_kpis.kpi_ratings(db, scope),
            ),
            asyncio.gather(
                _nothing() if panels_only else ops.providers(db),
                ops.buyers(db) if user.is_admin and not panels_only else _nothing(),
                _nothing() if panels_only else ops.recent_events(db, scope.buyer),
            ),
        )
        context: dict[str, Any] = {
            "user": user,
            "scope": scope,
            "rag": chosen_rag,
            "board": board,
            "next": _cursor(board.cursor_after(PAGE)),
            # The query of the next page: these filters, after the last row shown.
            "more": {
                k: v
                for k, v in {
                    "buyer": scope.buyer if user.is_admin else None,
                    "provider": scope.provider,
                    "status": scope.status,
                    "rag": chosen_rag,
                    "days": scope.days,
                    "after": _cursor(board.cursor_after(PAGE)),
                }.items()
                if v
            },
            "paged": after is not None,
            "overdue": overdue,
            "due_soon": due_soon,
            "kpis": kpis,
            "ratings": ops_kpis.RATINGS,
        }
        if panels_only:
            return Template("ops/_panels.html", context=context, headers=PAGE_HEADERS)
        context |= {
            "providers": providers,
            "buyers": buyers,
            "statuses": [s.value for s in ContractStatus],
            "rags": RAGS,
            "events": events,
            "stream": "/ops/events"
            + (f"?{urlencode({'buyer': scope.buyer})}" if user.is_admin and buyer else ""),
        }
        return Template("ops/index.html", context=context, headers=PAGE_HEADERS)

    @get("/contracts/{contract_id:uuid}")
    async def contract(
        self, contract_id: FromPath[uuid.UUID], db: Reading, request: Request[Any, Any, Any]
    ) -> Template:
        scope = scope_of(request)
        found = await contract_store.contracts.get(db, str(contract_id), buyer=scope.buyer)
        if found is None:
            raise NotFound(f"no contract {contract_id}")
        tenders, awards, milestones = await asyncio.gather(
            tender_store.tenders.many(db, found.tender_ids),
            tender_store.awards.many(db, found.award_ids),
            milestone_store.by_due_date(db, found.id),
        )
        context = {
            "user": principal(request),
            "contract": found,
            "steps": timeline(found, tenders, awards, milestones, today=today(request)),
            "milestones": sorted(milestones, key=lambda m: (m.due_on, m.id)),
            "today": scope.today,
            "stream": f"/ops/events?contract={found.id}",
        }
        if request.headers.get(FRAGMENT) == "panels":
            return Template("ops/_timeline.html", context=context, headers=PAGE_HEADERS)
        return Template("ops/contract.html", context=context, headers=PAGE_HEADERS)


async def _nothing() -> list[Any]:
    return []
