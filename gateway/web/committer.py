"""Group commit for webhook deliveries: the deliveries that arrive while a commit is in flight
share the next one.

`GroupCommitter(store, run)` takes items with `submit(item)` and returns each one's value
once the transaction it ran in has committed. `run(tx, items)` does the work of a batch in a
transaction and returns one value per item, in order; it may work set-wise (one statement for
the whole batch where it can). One batch at a time runs in a worker thread:

- First the whole batch in one `Store.tx()`: one transaction, no savepoints.
- If `run` raises, that transaction is rolled back (nothing of it was recorded, and what it
  deferred with `Tx.after_commit` never happens) and the batch runs again one item at a time,
  each in a savepoint of its own in one transaction. The item that fails (a constraint, a row
  another instance wrote first) is undone alone and answered with its own exception; the
  others commit.
- If a commit itself fails, every item of that batch gets the error: nothing was recorded,
  and GitHub redelivers what was not answered 200.

A batch takes what queued up during the previous commit, so under load many deliveries pay for
one commit, and a lone delivery waits for nothing but its own. Webhook writes are `unfenced`:
any instance records them (idempotent by delivery GUID). The committer does not know what a
delivery is; `run` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.store.db import Store, Tx, unfenced

I = TypeVar("I")  # noqa: E741 - an item of work
R = TypeVar("R")

MAX_BATCH = 256  # items in one transaction, at most


@dataclass(slots=True)
class _Pending(Generic[I, R]):
    item: I
    future: asyncio.Future[R]


class _RunFailed(Exception):
    """`run` raised in the whole-batch transaction: roll it back, then go item by item."""


class GroupCommitter(Generic[I, R]):
    """Runs items on `store` in shared transactions (see the module docstring)."""

    def __init__(self, store: Store, run: Callable[[Tx, Sequence[I]], list[R]], *,
                 max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._run = run
        self._max_batch = max_batch
        self._queue: list[_Pending[I, R]] = []
        self._driver: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed (for tests and the benchmark)
        self.retried = 0  # batches that went item by item after `run` raised

    async def submit(self, item: I) -> R:
        """Run `item` in the next shared transaction; its value once that has committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(item, future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        return await future

    async def _drive(self) -> None:
        while self._queue:
            batch, self._queue = (self._queue[:self._max_batch],
                                  self._queue[self._max_batch:])
            try:
                outcomes = await asyncio.to_thread(self._commit, [p.item for p in batch])
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

    def _commit(self, items: list[I]) -> list[tuple[bool, Any]]:
        try:
            with unfenced(), self._store.tx() as tx:
                try:
                    values = self._run(tx, items)
                    if len(values) != len(items):
                        raise AssertionError(f"{len(values)} values for {len(items)} items")
                except Exception as exc:
                    raise _RunFailed from exc
            self.commits += 1
            return [(True, value) for value in values]
        except _RunFailed:
            self.retried += 1
        return self._one_by_one(items)

    def _one_by_one(self, items: list[I]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with unfenced(), self._store.tx() as tx:
            for item in items:
                try:
                    with tx.savepoint():
                        outcomes.append((True, self._run(tx, [item])[0]))
                except Exception as exc:  # this item alone is undone; the others go on
                    outcomes.append((False, exc))
        self.commits += 1
        return outcomes
