"""The eligibility responder: the ``nats.micro`` service ``providers`` with the endpoint
``rpc.providers.eligibility`` (``$SRV.PING|INFO|STATS`` discover it).

Questions are answered in batches, with no task per question: nats-py hands a subscription's
messages to its callback one at a time; the callback decodes the question and queues it. One
task answers what has queued (up to ``concurrency`` questions) after one round trip to the
database, sent after each of them arrived: the barrier of the in-process index
(``storage/eligibility_index.py``), after which the index holds every change committed before
them (plus one read of the providers it lacks), or, while the index is not listening, one read
of all the providers the batch names. Questions arriving meanwhile form the next batch. A
request that does not decode, or names an unknown category, gets a micro error reply
(``Nats-Service-Error-Code`` 400) saying why; a failure on our side gets 500 (503 while the
database is unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import NamedTuple

import msgspec
from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import EndpointConfig, ServiceConfig

from procure_providers.storage.eligibility_index import EligibilityIndex
from procure_providers.usecases.eligibility import (
    DecisionMemo,
    check_eligibility_indexed,
    known_facts,
)
from procure_shared.categories import Category
from procure_shared.db.postgres import Pool, is_connection_error
from procure_shared.events.eligibility import (
    ELIGIBILITY_SUBJECT,
    EligibilityAnswer,
    EligibilityQuestion,
    decode_question,
    encode,
)

__all__ = ["EligibilityResponder"]

log = logging.getLogger("procure.providers.rpc")


class EligibilityResponder:
    role = "http"  # it answers questions, like the HTTP API

    def __init__(self, *, nc: Client, pool: Pool, version: str, concurrency: int = 32) -> None:
        self._nc = nc
        self._pool = pool
        self._version = version
        self._batch_size = concurrency
        self._questions: list[_Asked] = []
        self._arrived = asyncio.Event()
        self._closing = False
        self.index = EligibilityIndex(pool)
        self._memo = DecisionMemo()
        self.ready = asyncio.Event()  # set once the endpoint is subscribed

    async def run(self, stop: asyncio.Event) -> None:
        indexing = asyncio.create_task(self.index.run(stop), name="eligibility-index")
        answering = asyncio.create_task(self._answering(), name="eligibility-answers")
        try:
            await self._serve(stop)
        finally:
            if not stop.is_set():  # serving failed
                indexing.cancel()
            # The service takes no more questions: answer those taken (for up to 5 s).
            self._closing = True
            self._arrived.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(answering, timeout=5)
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

    async def _receive(self, request: Request) -> None:
        # nats-py calls this for one message at a time: no awaiting here but for a 400.
        try:
            question, category = _question(request.data)
        except _BadQuestion as exc:
            await request.respond_error("400", str(exc))
            return
        self._questions.append(_Asked(request, question, category))
        self._arrived.set()

    async def _answering(self) -> None:
        """Answers the questions that arrived, a batch at a time: one barrier (or one
        database read) for the whole batch, sent after each of its questions arrived."""
        while True:
            await self._arrived.wait()
            if self._closing and not self._questions:
                return
            batch = self._questions[: self._batch_size]
            del self._questions[: len(batch)]
            if not self._questions:
                self._arrived.clear()
            try:
                replies = await self._answers(batch)
            except Exception as exc:
                unavailable = is_connection_error(exc)
                log.warning("eligibility failed", extra={"error": repr(exc)})
                for asked in batch:
                    await asked.request.respond_error(
                        "503" if unavailable else "500",
                        "the registry's database is unreachable"
                        if unavailable
                        else "internal error",
                    )
                continue
            for asked, reply in zip(batch, replies, strict=True):
                await asked.request.respond(reply)

    async def _answers(self, batch: list[_Asked]) -> list[bytes]:
        facts = await known_facts(
            self.index, self._pool, [i for a in batch for i in a.question.provider_ids]
        )
        return [
            encode(
                EligibilityAnswer(
                    results=self._memo.decisions(
                        a.question.provider_ids, facts, a.category, a.question.on
                    )
                )
            )
            for a in batch
        ]

    async def answer(self, payload: bytes) -> bytes:
        """One question's answer, alone (the batches do the same for many)."""
        question, category = _question(payload)
        results = await check_eligibility_indexed(
            self.index, self._pool, question.provider_ids, category, question.on
        )
        return encode(EligibilityAnswer(results=results))


class _Asked(NamedTuple):
    request: Request
    question: EligibilityQuestion
    category: Category


def _question(payload: bytes) -> tuple[EligibilityQuestion, Category]:
    try:
        question = decode_question(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _BadQuestion(f"not an eligibility question: {exc}") from None
    try:
        category = Category(question.category)
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise _BadQuestion(f"unknown category {question.category!r}; known: {known}") from None
    return question, category


class _BadQuestion(Exception):
    pass
