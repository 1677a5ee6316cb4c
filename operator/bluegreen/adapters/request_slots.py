"""A session's connections, handed to waiting requests by priority, then in turn.

With a thousand releases stepping at once every connection is busy and requests
queue in the process. First come, first served would make the write that
records a release's progress (its status, which its next step waits for) queue
behind every other release's new Deployments and behind Events nobody waits
for: a candidate that became available would wait seconds for its own
release's previous write before it could be switched. Work under way goes
first: status writes, then every other request, then Events. Within a priority
requests keep their order. Strict priorities alone would let a flood of status
writes hold back a Deployment's creation, or the Events, for as long as it lasts:
one hand-over in ``FAIR_SHARE`` goes to the request that has waited longest,
whatever its priority. A request is sent as soon as it holds a slot, so one
still waiting has not left the process and can give up (``take``'s ``unless``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from enum import IntEnum
from typing import Any

from bluegreen.adapters.api_paths import resource_of, verb_of
from bluegreen.api.v1alpha1 import PLURAL


class Priority(IntEnum):
    PROGRESS = 0
    """A release's status: what its step did; its next step waits for it. Also a
    fresh read of the release itself, which a step waits for."""
    WORK = 1
    """Reads and writes of the objects a release is made of."""
    BEST_EFFORT = 2
    """Events: for humans; no step waits for them."""


def priority_of(method: str, path: str) -> Priority:
    if method in ("PATCH", "PUT") and path.endswith("/status"):
        return Priority.PROGRESS
    if resource_of(path) == PLURAL and verb_of(method, path) == "get":
        # A fresh read of one release: the status write's re-read after a conflict,
        # or the check before its action annotation is cleared. Both sit in a step.
        return Priority.PROGRESS
    if method == "POST" and path.endswith("/events"):
        return Priority.BEST_EFFORT
    return Priority.WORK


FAIR_SHARE = 8
"""Every this many hand-overs of a slot to a waiting request, the longest-waiting
request gets it: the others keep seven in eight, and none waits without end."""


class SupersededError(Exception):
    """A request dropped before it was sent: news its caller waited for made it moot."""


class RequestSlots:
    """As many slots as the session has connections; waiters served by priority."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._handovers = 0

    def locked(self) -> bool:
        """True when a request would have to wait."""
        return self._free == 0

    async def acquire(self, priority: Priority = Priority.WORK) -> None:
        if self._free > 0:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._arrivals), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # granted just before the cancellation: pass it on
            raise

    def release(self) -> None:
        if self._waiters:
            self._handovers += 1
            if self._handovers % FAIR_SHARE == 0 and self._hand_to_longest_waiting():
                return
        while self._waiters:
            _, _, granted = heapq.heappop(self._waiters)
            if not granted.done():  # a cancelled waiter is skipped
                granted.set_result(None)
                return
        self._free += 1

    def _hand_to_longest_waiting(self) -> bool:
        pending = [waiter for waiter in self._waiters if not waiter[2].done()]
        if not pending:
            return False
        oldest = min(pending, key=lambda waiter: waiter[1])
        self._waiters.remove(oldest)
        heapq.heapify(self._waiters)
        oldest[2].set_result(None)
        return True


async def take(
    slots: RequestSlots, unless: asyncio.Event | None, priority: Priority = Priority.WORK
) -> None:
    """Take a slot; with ``unless``, give up having taken none once it is set first.

    A free slot is taken at once even when ``unless`` is set: the request then
    costs one round trip, and news that keeps coming can't starve it.
    """
    if unless is None or not slots.locked():
        await slots.acquire(priority)
        return
    if unless.is_set():
        raise SupersededError
    taking = asyncio.ensure_future(slots.acquire(priority))
    news = asyncio.ensure_future(unless.wait())
    try:
        await asyncio.wait({taking, news}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        _give_up(taking, slots)
        raise
    finally:
        news.cancel()
    if taking.done() and not taking.cancelled():
        return
    _give_up(taking, slots)
    raise SupersededError


def _give_up(taking: asyncio.Future[Any], slots: RequestSlots) -> None:
    """Withdraw from the wait; a slot granted meanwhile goes back."""
    if not taking.done():
        taking.cancel()
    elif not taking.cancelled():
        slots.release()
