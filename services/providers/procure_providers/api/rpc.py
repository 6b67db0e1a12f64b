"""The eligibility responder: the ``nats.micro`` service ``providers`` with the endpoint
``rpc.providers.eligibility`` (``$SRV.PING|INFO|STATS`` discover it).

Requests are answered concurrently (bounded): nats-py hands a subscription's messages to its
callback one at a time, and each answer waits on a round trip to the database: the barrier of
the in-process index (``storage/eligibility_index.py``: one round trip shared by the questions
that arrived meanwhile, after which the index holds every change committed before them), or
the facts themselves for providers the index lacks, or for all while it is not listening. A
request that does not decode, or names an unknown category, gets a micro error reply
(``Nats-Service-Error-Code`` 400) saying why; a failure on our side gets 500 (503 while the
database is unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import EndpointConfig, ServiceConfig

from procure_providers.storage.eligibility_index import EligibilityIndex
from procure_providers.usecases.eligibility import check_eligibility_indexed
from procure_shared.categories import Category
from procure_shared.events.eligibility import (
    ELIGIBILITY_SUBJECT,
    EligibilityAnswer,
    decode_question,
    encode,
)
from procure_shared.postgres import Pool, is_connection_error

__all__ = ["EligibilityResponder"]

log = logging.getLogger("procure.providers.rpc")


class EligibilityResponder:
    role = "http"  # it answers questions, like the HTTP API

    def __init__(self, *, nc: Client, pool: Pool, version: str, concurrency: int = 32) -> None:
        self._nc = nc
        self._pool = pool
        self._version = version
        self._slots = asyncio.Semaphore(concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self.index = EligibilityIndex(pool)
        self.ready = asyncio.Event()  # set once the endpoint is subscribed

    async def run(self, stop: asyncio.Event) -> None:
        indexing = asyncio.create_task(self.index.run(stop), name="eligibility-index")
        try:
            await self._serve(stop)
        finally:
            if not stop.is_set():  # serving failed
                indexing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await indexing

    async def _serve(self, stop: asyncio.Event) -> None:
        service = await add_service(
            self._nc,
            ServiceConfig(
                name="providers",
                version=self._version,
                description="Procure's provider registry: eligibility of providers for awards.",
            ),
        )
        await service.add_endpoint(
            EndpointConfig(
                name="eligibility",
                subject=ELIGIBILITY_SUBJECT,
                handler=self._receive,
                metadata={"request": "EligibilityQuestion", "reply": "EligibilityAnswer"},
            )
        )
        await self._nc.flush()
        self.ready.set()
        try:
            await stop.wait()
        finally:
            await service.stop()
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=5)

    async def _receive(self, request: Request) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._answer(request))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _answer(self, request: Request) -> None:
        try:
            reply = await self.answer(request.data)
        except _BadQuestion as exc:
            await request.respond_error("400", str(exc))
        except Exception as exc:
            unavailable = is_connection_error(exc)
            log.warning("eligibility failed", extra={"error": repr(exc)})
            await request.respond_error(
                "503" if unavailable else "500",
                "the registry's database is unreachable" if unavailable else "internal error",
            )
        else:
            await request.respond(reply)
        finally:
            self._slots.release()

    async def answer(self, payload: bytes) -> bytes:
        try:
            question = decode_question(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _BadQuestion(f"not an eligibility question: {exc}") from None
        try:
            category = Category(question.category)
        except ValueError:
            known = ", ".join(c.value for c in Category)
            raise _BadQuestion(f"unknown category {question.category!r}; known: {known}") from None
        results = await check_eligibility_indexed(
            self.index, self._pool, question.provider_ids, category, question.on
        )
        return encode(EligibilityAnswer(results=results))


class _BadQuestion(Exception):
    pass
