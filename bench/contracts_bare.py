"""The bare baseline of the contracts benchmark: a minimal Litestar app on the same server
(uvicorn, one worker, uvloop and httptools, no access log) with the same pool
(procure_shared.db.postgres.create_pool: size 10, no reset on release), running the SQL the
contracts service runs and nothing else: no auth, no middleware, no domain Structs.

    python -m bench.contracts_bare --dsn DSN --port PORT

- ``GET /contracts/{id}``: the service's read statement; the document's text, unchanged.
- ``GET /contracts?status=S&category=C&limit=N``: the service's list-page statement (the one
  ``Documents.page`` builds for those filters, buyer "dfe"); PostgreSQL's JSON array, unchanged.
- ``POST /contracts/{id}/amendments`` (a scope change): in one transaction, the claim of the
  request's Idempotency-Key, the service's ``SELECT ... FOR UPDATE``, its version-checked
  ``UPDATE`` of every column, one audit row and one outbox row (the event's envelope with the
  fields the service's has, its buyer and a correlation id, as the service's middleware gives
  every request), then the response saved under the key (the shared idempotency, audit and
  outbox statements, with the arguments the shared code passes them); the new document, 201.
  A key used before answers 409 here (the service replays the saved response): the load
  generator never repeats one.

An unexpected error answers 500 with the exception's text, and its traceback goes to stderr
(the bench's log of the apps), since the app has no logging.

The statements are captured from the service's own storage code (``statements()``: its
repositories run against a connection that only records), so that both sides run the same SQL
text; only that capture imports procure code, never the request path.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import traceback
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import msgspec
import uvicorn
import uvloop
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import ClientException, HTTPException, NotFoundException

from procure_shared.db.postgres import Connection, Pool, create_pool

BUYER = "dfe"
ACTOR = "bench-bare"
OWNER = "bench"  # the token's subject, which owns the service's Idempotency-Keys
_STATUS, _CATEGORY = "<status>", "<category>"


class Statements(msgspec.Struct, frozen=True):
    read: str
    read_for_update: str
    page: str
    page_params: list[str]  # which value each $n of ``page`` takes: buyer, status, category, limit
    save: str
    save_columns: list[str]  # the column each $n of ``save`` sets ($1 is the id)
    audit: str
    outbox: str
    correlation_header: str  # the outbox row's header naming the request's correlation id
    claim: str  # the Idempotency-Key's claim
    save_response: str  # the response saved under the key
    amended: str  # the event type
    amended_version: int


class _Recorder:
    """Stands in for a connection: notes each statement and its arguments."""

    def __init__(self, answer: Any = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._answer = answer

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.calls.append((sql, args))
        return self._answer

    async def execute(self, sql: str, *args: Any) -> str:
        self.calls.append((sql, args))
        return "UPDATE 1"

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self.calls.append((sql, args))
        return {
            "items": self._answer,
            "n": 0,
            "last_at": None,
            "last_id": None,
            "doc": self._answer,
            "version": 1,
        }


async def statements() -> Statements:
    """The service's statements, as its storage code builds them."""
    from procure_contracts.contracts import store
    from procure_shared.db import audit
    from procure_shared.events import registry
    from procure_shared.http import preconditions
    from procure_shared.messaging import outbox

    any_id = str(uuid.uuid4())
    read = _Recorder("{}")
    await store.contracts.raw(cast(Connection, read), any_id, buyer=BUYER)
    locked = _Recorder()
    await store.contracts.get(cast(Connection, locked), any_id, buyer=BUYER, for_update=True)
    listed = _Recorder("[]")
    await store.contracts.page(
        cast(Connection, listed),
        store.contract_page(
            store.ContractFilter(buyer=BUYER, status=_STATUS, category=_CATEGORY, limit=50)
        ),
    )
    sql, args = listed.calls[0]
    names = {BUYER: "buyer", _STATUS: "status", _CATEGORY: "category", 50: "limit"}
    save_sql = await _save_sql()
    return Statements(
        read=read.calls[0][0],
        read_for_update=locked.calls[0][0],
        page=sql,
        page_params=[names[a] for a in args],
        save=save_sql,
        save_columns=_numbered_columns(save_sql),
        audit=audit.Q.record,
        outbox=outbox.Q.add,
        correlation_header=outbox.CORRELATION_HEADER,
        claim=preconditions.Q.claim,
        save_response=preconditions.Q.save,
        amended=registry.CONTRACT_AMENDED.type,
        amended_version=registry.CONTRACT_AMENDED.version,
    )


async def _save_sql() -> str:
    """``Documents.save``'s UPDATE for the contracts table (built from a sample Struct)."""
    from procure_contracts.contracts import store
    from procure_contracts.contracts.rules import Contract, ContractStatus

    now = datetime(2026, 1, 1, tzinfo=UTC)
    sample = Contract(
        id=str(uuid.uuid4()),
        buyer_id=BUYER,
        title="t",
        description=None,
        award_ids=[],
        lot_ids=[],
        tender_ids=[],
        categories=[],
        suppliers=[],
        value=None,
        current_value=None,
        amendments_value=Decimal(0),
        threshold_exceeded=False,
        starts_on=None,
        ends_on=None,
        scope=None,
        status=ContractStatus.ACTIVE,
        version=2,
        created_at=now,
        updated_at=now,
    )
    saved = _Recorder()
    await store.contracts.save(cast(Connection, saved), sample)
    return saved.calls[0][0]


def _numbered_columns(update: str) -> list[str]:
    """``UPDATE t SET a = $2, b = $3 ... WHERE id = $1 AND version = $n - 1`` -> the column of
    each parameter, in order."""
    found = {int(n): name for name, n in re.findall(r"(\w+) = \$(\d+)", update)}
    return [found[n] for n in range(1, max(found) + 1)]


# --- the app ----------------------------------------------------------------------------------

_pool: Pool
_sql: Statements


async def _read(contract_id: uuid.UUID) -> Response[bytes]:
    async with _pool.acquire() as conn:
        text: str | None = await conn.fetchval(_sql.read, contract_id, BUYER)
    if text is None:
        return Response(b"", status_code=404)
    return Response(text.encode(), media_type="application/json")


@get("/contracts/{contract_id:uuid}")
async def read(contract_id: uuid.UUID) -> Response[bytes]:
    return await _read(contract_id)


@get("/contracts")
async def page(status: str, category: str, limit: int = 50) -> Response[bytes]:
    values: dict[str, Any] = {
        "buyer": BUYER,
        "status": status,
        "category": category,
        "limit": limit,
    }
    async with _pool.acquire() as conn:
        text: str = await conn.fetchval(_sql.page, *(values[p] for p in _sql.page_params))
    return Response(text.encode(), media_type="application/json")


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _columns(doc: dict[str, Any], new: bytes, contract_id: uuid.UUID) -> list[Any]:
    current = doc["currentValue"]
    values: dict[str, Any] = {
        "id": contract_id,
        "buyer_id": doc["buyerId"],
        "status": doc["status"],
        "title": doc["title"],
        "description": doc["description"],
        "categories": doc["categories"],
        "provider_ids": [s["id"] for s in doc["suppliers"]],
        "lot_ids": doc["lotIds"],
        "tender_ids": doc["tenderIds"],
        "current_amount": None if current is None else Decimal(current["amount"]),
        "starts_on": _day(doc["startsOn"]),
        "ends_on": _day(doc["endsOn"]),
        "flagged": doc["thresholdExceeded"],
        "version": doc["version"],
        "created_at": datetime.fromisoformat(doc["createdAt"]),
        "doc": msgspec.Raw(new),
    }
    return [values[c] for c in _sql.save_columns]


def _event_data(doc: dict[str, Any], amendment_id: str) -> dict[str, Any]:
    """The amended event's data (ContractData, camelCase) from the amended document."""
    return {
        "contractId": doc["id"],
        "awardIds": doc["awardIds"],
        "providerIds": [s["id"] for s in doc["suppliers"]],
        "title": doc["title"],
        "status": doc["status"],
        "value": doc["currentValue"],
        "startsOn": doc["startsOn"],
        "endsOn": doc["endsOn"],
        "lotIds": doc["lotIds"],
        "originalValue": doc["value"],
        "thresholdExceeded": doc["thresholdExceeded"],
        "amendmentId": amendment_id,
        "optionId": None,
        "changed": [],
        "kpiExemption": doc.get("kpiExemption"),
    }


@post("/contracts/{contract_id:uuid}/amendments", status_code=201)
async def amend(contract_id: uuid.UUID, request: Request[Any, Any, Any]) -> Response[bytes]:
    key = request.headers.get("idempotency-key")
    if not key:
        raise ClientException("this request needs an Idempotency-Key header")
    raw = await request.body()
    body = msgspec.json.decode(raw)
    change = body["change"]
    now = datetime.now(UTC)
    correlation = os.urandom(16).hex()  # as the service's middleware makes one
    async with _pool.acquire() as conn, conn.transaction():
        fingerprint = hashlib.sha256(raw).hexdigest()
        turn = await conn.fetchrow(_sql.claim, OWNER, key, "POST", request.url.path, fingerprint)
        if turn is None or not (turn["mine"] and turn["claimed"]):
            raise HTTPException(status_code=409, detail=f"Idempotency-Key {key!r} used before")
        text: str | None = await conn.fetchval(_sql.read_for_update, contract_id, BUYER)
        if text is None:
            raise NotFoundException()
        doc = msgspec.json.decode(text)
        amendment_id = str(uuid.uuid4())
        doc["amendments"].append(
            {
                "id": amendment_id,
                "change": change,
                "rationale": body["rationale"],
                "madeAt": now,
                "madeBy": ACTOR,
                "before": {"scope": doc["scope"]},
            }
        )
        doc["scope"] = change["scope"]
        doc["version"] += 1
        doc["updatedAt"] = now
        new = msgspec.json.encode(doc)
        status = await conn.execute(_sql.save, *_columns(doc, new, contract_id))
        if status != "UPDATE 1":
            raise RuntimeError(f"contract {contract_id} changed under a row lock")
        subject = str(contract_id)
        await conn.execute(
            _sql.audit,
            now,
            ACTOR,
            ["commercial"],
            BUYER,
            _sql.amended,
            "contract",
            subject,
            text,
            new.decode(),
            correlation,
        )
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/procure/contracts",
            "type": _sql.amended,
            "subject": subject,
            "time": now,
            "datacontenttype": "application/json",
            "procureversion": _sql.amended_version,
            "sequence": doc["version"],
            "data": _event_data(doc, amendment_id),
            "buyerid": BUYER,
        }
        await conn.execute(
            _sql.outbox,
            envelope["id"],
            _sql.amended,
            subject,
            doc["version"],
            msgspec.json.encode(envelope),
            msgspec.json.encode({_sql.correlation_header: correlation}).decode(),
            BUYER,
        )
        headers = {
            "ETag": f'"{doc["version"]}"',
            "Location": f"{request.url.path}/{amendment_id}",
        }
        await conn.execute(
            _sql.save_response, OWNER, key, 201, new, msgspec.json.encode(headers).decode()
        )
    return Response(new, status_code=201, media_type="application/json", headers=headers)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A 500 with the exception's text; its traceback on stderr (the bench's log of the app)."""
    traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.flush()
    return Response(f"{type(exc).__name__}: {exc}".encode(), status_code=500)


async def _start() -> None:
    global _pool
    _pool = await create_pool(_dsn, size=10)


async def _stop() -> None:
    await _pool.close()


_dsn = ""


def app() -> Litestar:
    return Litestar(
        route_handlers=[read, page, amend],
        exception_handlers={500: _internal_error},
        on_startup=[_start],
        on_shutdown=[_stop],
        logging_config=None,
    )


async def _serve(port: int) -> None:
    global _sql
    _sql = await statements()
    config = uvicorn.Config(
        app(),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="on",
    )
    await uvicorn.Server(config).serve()


def main(argv: Sequence[str] | None = None) -> None:
    global _dsn
    parser = argparse.ArgumentParser(prog="python -m bench.contracts_bare")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    _dsn = args.dsn
    uvloop.run(_serve(args.port))


if __name__ == "__main__":
    main()
