"""Group commit for webhook deliveries: the deliveries that arrive while a commit is in flight
share the next one.

`GroupCommitter.submit(work)` queues `work` (a function of a `Tx`) and returns its value once
the transaction it ran in has committed. One batch at a time runs in a worker thread: every
queued piece of work in one `Store.tx()`, each in a savepoint of its own, so one that fails
(a payload the tracking service cannot use, a constraint) is undone alone and answered with its
own exception while the others commit. If the commit itself fails, every piece of that batch
gets the error: nothing was recorded, and GitHub redelivers what was not answered 200. A batch
takes what queued up during the previous commit, so under load many deliveries pay for one
fsync, and a lone delivery waits for nothing but its own. Webhook writes are `unfenced`: any
instance records them (idempotent by delivery GUID). Must not know what a delivery is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.store.db import Store, Tx, unfenced

T = TypeVar("T")

MAX_BATCH = 256  # pieces of work in one transaction, at most


@dataclass(slots=True)
class _Pending(Generic[T]):
    work: Callable[[Tx], T]
    future: asyncio.Future[T]


class GroupCommitter:
    """Runs pieces of work on `store` in shared transactions (see the module docstring)."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: list[_Pending[Any]] = []
        self._driver: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed (for tests and the benchmark)

    async def submit(self, work: Callable[[Tx], T]) -> T:
        """Run `work` in the next shared transaction; its value once that has committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(work, future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        return await future

    async def _drive(self) -> None:
        while self._queue:
            batch, self._queue = (self._queue[:self._max_batch],
                                  self._queue[self._max_batch:])
            try:
                outcomes = await asyncio.to_thread(self._commit, [p.work for p in batch])
            except Exception as exc:  # the transaction failed: nothing of it was recorded
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, (ok, value) in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if ok:
                    pending.future.set_result(value)
                else:
                    pending.future.set_exception(value)

    def _commit(self, works: list[Callable[[Tx], Any]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with unfenced(), self._store.tx() as tx:
            for work in works:
                try:
                    with tx.savepoint():
                        outcomes.append((True, work(tx)))
                except Exception as exc:  # this piece alone is undone; the others go on
                    outcomes.append((False, exc))
        self.commits += 1
        return outcomes
