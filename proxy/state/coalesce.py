"""Calls that arrive while a batch is on the wire leave together in the next one.

Under load, many requests want a round trip to Redis at once; each round trip costs the event loop a
command to pack, a write, a wake-up and a reply to parse. A `Coalescer` sends the first call at once
and holds the calls that come meanwhile, then sends them all in one batch when the wire is free, so
the cost is paid per batch rather than per request. A lone request waits for nothing but its own
round trip; under load none waits for more than the batch ahead of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    def __init__(self, send: Callable[[list[Item]], Awaitable[list[Result]]],
                 on_abandoned: Callable[[Item, Result], None] | None = None) -> None:
        """`send` answers a batch in order; `on_abandoned` gets the results nobody waits for any more
        (their caller was cancelled meanwhile), so what they took can be given back."""
        self._send = send
        self._on_abandoned = on_abandoned
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    @property
    def busy(self) -> bool:
        """A batch is on the wire, or about to leave."""
        return self._task is not None

    @property
    def waiting(self) -> int:
        """Calls held for the next batch."""
        return len(self._queue)

    async def call(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append((item, future))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                self.batches += 1
                self.items += len(batch)
                try:
                    results = await self._send([item for item, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every caller of the batch gets it, as if it called alone
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (item, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                    elif self._on_abandoned is not None:
                        self._on_abandoned(item, result)
                batch = []
        finally:
            self._task = None
            for _, future in [*batch, *self._queue]:  # cancelled itself (shutdown): nobody is left hanging
                future.cancel()
            self._queue = []
