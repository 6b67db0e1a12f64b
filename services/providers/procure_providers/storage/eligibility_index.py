"""An in-process index of eligibility facts, kept exact by LISTEN/NOTIFY and a barrier.

Why it is exact, not eventually consistent (the rule: an answer reflects every change committed
before the question was sent):

- Every change to what eligibility weighs NOTIFYs ``procure_eligibility`` with the provider's
  id (triggers, migration 20261123100004). PostgreSQL queues a transaction's notifications
  before it commits and signals the listening backends in ``AtCommit_Notify``, inside
  ``CommitTransaction``, so before the writer is told that it committed (``commands/async.c``).
  Notifying commits are serialised (a lock held from queueing to the end of the transaction), so
  the queue is in commit order and nothing uncommitted sits in front of a committed entry.
- ``fresh()`` is the barrier: one ``SELECT 1`` on the listening connection, sent after the
  question arrived and shared by every question that arrived before it was sent. An idle
  backend that has been signalled reads the queue and sends the notifications before the
  ReadyForQuery that ends the barrier (``tcop/postgres.c``: ``if (notifyInterruptPending)
  ProcessNotifyInterrupt(false)`` just before ``ReadyForQuery``; it may also have sent them
  already, while idle). The signal was sent before the writer saw its commit, hence before the
  question and the barrier were sent.
- asyncpg handles the connection's messages in order: a NotificationResponse schedules our
  (plain, not async) callback with ``loop.call_soon`` before the ReadyForQuery completes the
  barrier's future, whose waiter resumes through a later ``call_soon`` (``connection.py``
  ``_process_notification``). So when ``fresh()`` returns True, every change committed before
  the question was sent has been applied: its provider is no longer in the index.
- A load from the database can overlap an invalidation: its rows are kept only if no
  notification arrived and the listener stayed the same from before the load was sent until its
  rows came back (otherwise they answer the question that asked, fresh as any query sent after
  the question, and are not kept). A change committed after the load's snapshot notifies after
  the load was sent, so either it is seen during the load (rows not kept) or it removes them
  when it arrives, which is before any later question's barrier ends.
- Not listening (not yet, reconnecting, the barrier failed): ``fresh()`` returns False and the
  caller asks the database. Every (re)connection empties the index after LISTEN has taken
  effect and the callback is registered, and makes loads already in flight not kept.

The listener holds one connection of the pool while it runs (it UNLISTENs before giving it
back: the pool does not reset connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from procure_providers.domain.eligibility import Facts
from procure_providers.storage import eligibility as store
from procure_providers.storage.keys import as_uuid
from procure_shared.db.postgres import Connection, Pool

__all__ = ["CHANNEL", "EligibilityIndex"]

CHANNEL = "procure_eligibility"
ALL = "*"
WARM_CHUNK = 500

log = logging.getLogger("procure.providers.eligibility_index")


class EligibilityIndex:
    """Facts per provider (all categories), or None for an id that names no provider."""

    def __init__(self, pool: Pool, *, capacity: int = 100_000, retry_seconds: float = 1.0) -> None:
        self._pool = pool
        self._capacity = capacity
        self._retry = retry_seconds
        self._facts: dict[str, Facts | None] = {}
        # Bumped by every notification and every (dis)connection: a load kept only if unchanged.
        self._epoch = 0
        self._conn: Connection | None = None
        self._lost: asyncio.Event | None = None
        # The barrier: questions wait on ``_next``, resolved by the next round trip sent.
        self._next: asyncio.Future[bool] | None = None
        self._wanted = asyncio.Event()
        self.listening = asyncio.Event()  # set while the index is usable
        self.barriers = 0  # round trips sent, for tests and the bench's notes
        self.backend_pid: int | None = None  # of the listening connection

    def __len__(self) -> int:
        return len(self._facts)

    # --- answering -----------------------------------------------------------------------

    async def fresh(self) -> bool:
        """True once every change committed before this call is applied to the index; False
        when the index cannot say (not listening): ask the database instead."""
        if self._conn is None:
            return False
        waiting = self._next
        if waiting is None:
            waiting = self._next = asyncio.get_running_loop().create_future()
            self._wanted.set()
        return await asyncio.shield(waiting)

    def known(self, keys: Sequence[str]) -> tuple[dict[str, Facts | None], list[str]]:
        """What the index holds for ``keys`` (canonical UUID texts), and the keys it lacks."""
        found: dict[str, Facts | None] = {}
        missing: list[str] = []
        facts = self._facts
        for key in keys:
            if key in facts:
                found[key] = facts[key]
            else:
                missing.append(key)
        return found, missing

    async def load(self, conn: Connection, keys: Sequence[str]) -> dict[str, Facts | None]:
        """Read ``keys`` from the database (fresh as any query sent now); keep them if no
        change can have slipped past (see the module's notes)."""
        epoch, listener = self._epoch, self._conn
        rows = await store.facts(conn, keys, None)
        loaded: dict[str, Facts | None] = {key: rows.get(key) for key in keys}
        if listener is not None and listener is self._conn and epoch == self._epoch:
            if len(self._facts) + len(loaded) > self._capacity:
                self._facts.clear()
            self._facts.update(loaded)
        return loaded

    # --- listening -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop``, reconnecting after a failure; the barrier runs alongside."""
        barrier = asyncio.create_task(self._barriers(), name="eligibility-index-barrier")
        try:
            while not stop.is_set():
                try:
                    await self._listen(stop)
                except Exception as exc:
                    log.warning("eligibility index not listening", extra={"error": repr(exc)})
                if not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._retry)
        finally:
            barrier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await barrier
            self._fail_waiters()

    async def _listen(self, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        async with self._pool.acquire() as conn:
            try:
                conn.add_termination_listener(self._terminated(lost))
                await conn.add_listener(CHANNEL, self._notified)
                # From here every commit notifies us: forget what was loaded before.
                self._reset()
                self._lost, self._conn = lost, conn
                self.backend_pid = conn.get_server_pid()
                self.listening.set()
                warming = asyncio.create_task(self._warm(), name="eligibility-index-warm")
                ended = asyncio.create_task(stop.wait())
                broken = asyncio.create_task(lost.wait())
                try:
                    await asyncio.wait([ended, broken], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (warming, ended, broken):
                        task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await warming
            finally:
                self._detach()
                if lost.is_set() and not conn.is_closed():
                    conn.terminate()  # a failed barrier: in no known state
                elif not conn.is_closed():
                    try:
                        await conn.remove_listener(CHANNEL, self._notified)  # UNLISTEN
                    except BaseException:
                        conn.terminate()
                        raise
        if lost.is_set() and not stop.is_set():
            raise ConnectionError("the listening connection was lost")

    async def _warm(self) -> None:
        """Load every provider (up to the capacity) once listening, so that the first questions
        need no reads of their own; what a change overlaps is simply not kept."""
        try:
            async with self._pool.acquire() as conn:
                ids = await store.provider_ids(conn, self._capacity)
                for start in range(0, len(ids), WARM_CHUNK):
                    await self.load(conn, ids[start : start + WARM_CHUNK])
        except Exception as exc:  # the index fills as questions come instead
            log.warning("eligibility index not warmed", extra={"error": repr(exc)})

    def _terminated(self, lost: asyncio.Event) -> Any:
        def terminated(_conn: Any) -> None:
            self._detach()
            lost.set()

        return terminated

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        # A plain callback (not async): asyncpg runs it before the barrier's waiter resumes.
        self._epoch += 1
        if not isinstance(payload, str) or payload == ALL:
            self._facts.clear()
            return
        key = as_uuid(payload)
        if key is not None:
            self._facts.pop(str(key), None)

    def _reset(self) -> None:
        self._epoch += 1
        self._facts.clear()

    def _detach(self) -> None:
        """Not listening any more: nothing in the index can be trusted."""
        self._conn = None
        self.listening.clear()
        self._reset()
        self._fail_waiters()

    def _fail_waiters(self) -> None:
        waiting, self._next = self._next, None
        if waiting is not None and not waiting.done():
            waiting.set_result(False)

    async def _barriers(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            waiting, self._next = self._next, None
            if waiting is None:
                continue
            conn, lost = self._conn, self._lost
            ok = False
            if conn is not None:
                try:
                    await conn.execute("SELECT 1")  # one round trip; the notifications come first
                    self.barriers += 1
                    ok = conn is self._conn
                except Exception as exc:
                    log.warning("eligibility barrier failed: %r", exc)
                    if conn is self._conn:
                        self._detach()
                    if lost is not None:
                        lost.set()
            if not waiting.done():
                waiting.set_result(ok)
