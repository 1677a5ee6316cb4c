"""A request waits for one of its session's connections, by priority; with ``unless``
it can give up.

``take`` is what ``KubeRest.request`` awaits before it sends: a request that
gave up has taken no slot and sent nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from bluegreen.adapters.request_slots import (
    FAIR_SHARE,
    Priority,
    RequestSlots,
    SupersededError,
    priority_of,
    take,
)


def test_news_while_every_slot_is_busy_drops_the_request_unsent() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        await slots.acquire()  # the one connection is busy
        news = asyncio.Event()
        waiting = asyncio.ensure_future(take(slots, news))
        await asyncio.sleep(0)
        assert not waiting.done()
        news.set()
        with pytest.raises(SupersededError):
            await waiting
        slots.release()
        # Nothing was kept by the request that gave up: the slot is free again.
        assert not slots.locked()

    asyncio.run(scenario())


def test_news_already_there_drops_a_request_that_would_wait() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        await slots.acquire()
        news = asyncio.Event()
        news.set()
        with pytest.raises(SupersededError):
            await take(slots, news)

    asyncio.run(scenario())


def test_a_free_slot_is_taken_even_with_news() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        news = asyncio.Event()
        news.set()
        await take(slots, news)  # no wait: sent at once, news can't starve it
        assert slots.locked()

    asyncio.run(scenario())


def test_a_slot_freed_before_any_news_is_kept_and_the_request_goes_out() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        await slots.acquire()
        news = asyncio.Event()
        waiting = asyncio.ensure_future(take(slots, news))
        await asyncio.sleep(0)
        slots.release()
        await waiting
        assert slots.locked()  # held by the request now
        news.set()  # too late to matter: the request is on its way
        slots.release()
        assert not slots.locked()

    asyncio.run(scenario())


def test_a_caller_cancelled_while_waiting_keeps_no_slot() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        await slots.acquire()
        waiting = asyncio.ensure_future(take(slots, asyncio.Event()))
        await asyncio.sleep(0)
        slots.release()  # granted to the waiter ...
        waiting.cancel()  # ... which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not slots.locked()

    asyncio.run(scenario())


def test_waiting_requests_are_served_by_priority_then_in_turn() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        await slots.acquire()
        served: list[str] = []

        async def request(label: str, priority: Priority) -> None:
            await slots.acquire(priority)
            served.append(label)
            slots.release()

        queued = [
            ("event", Priority.BEST_EFFORT),
            ("create 1", Priority.WORK),
            ("status 1", Priority.PROGRESS),
            ("create 2", Priority.WORK),
            ("status 2", Priority.PROGRESS),
        ]
        tasks = [asyncio.ensure_future(request(*q)) for q in queued]
        await asyncio.sleep(0)
        assert served == []  # all wait for the one busy slot
        slots.release()
        await asyncio.gather(*tasks)
        assert served == ["status 1", "status 2", "create 1", "create 2", "event"]
        assert not slots.locked()

    asyncio.run(scenario())


def test_a_cancelled_waiter_is_skipped_and_keeps_nothing() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        await slots.acquire()
        first = asyncio.ensure_future(slots.acquire(Priority.PROGRESS))
        second = asyncio.ensure_future(slots.acquire(Priority.WORK))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        slots.release()
        await second  # the slot went past the cancelled waiter
        assert slots.locked()
        slots.release()
        assert not slots.locked()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("method", "path", "priority"),
    [
        (
            "PATCH",
            "/apis/bluegreen.dev/v1alpha1/namespaces/a/bluegreenreleases/r/status",
            Priority.PROGRESS,
        ),
        (
            "PUT",
            "/apis/bluegreen.dev/v1alpha1/namespaces/a/bluegreenreleases/r/status",
            Priority.PROGRESS,
        ),
        (
            "GET",
            "/apis/bluegreen.dev/v1alpha1/namespaces/a/bluegreenreleases/r/status",
            Priority.WORK,
        ),
        ("GET", "/apis/bluegreen.dev/v1alpha1/namespaces/a/bluegreenreleases/r", Priority.PROGRESS),
        ("GET", "/apis/bluegreen.dev/v1alpha1/namespaces/a/bluegreenreleases", Priority.WORK),
        ("GET", "/apis/apps/v1/namespaces/a/deployments/r", Priority.WORK),
        ("POST", "/apis/apps/v1/namespaces/a/deployments", Priority.WORK),
        ("PATCH", "/api/v1/namespaces/a/services/shop", Priority.WORK),
        ("POST", "/api/v1/namespaces/a/events", Priority.BEST_EFFORT),
    ],
)
def test_status_writes_go_first_and_events_last(method: str, path: str, priority: Priority) -> None:
    assert priority_of(method, path) == priority


class Flood:
    """Status writes that never stop coming: each one served queues another."""

    def __init__(self, slots: RequestSlots, limit: int) -> None:
        self.slots, self.limit = slots, limit
        self.served: list[str] = []
        self.pending: list[asyncio.Future[None]] = []

    def send(self, label: str, priority: Priority) -> asyncio.Future[None]:
        sent = asyncio.ensure_future(self._request(label, priority))
        self.pending.append(sent)
        return sent

    async def _request(self, label: str, priority: Priority) -> None:
        await self.slots.acquire(priority)
        self.served.append(label)
        if priority == Priority.PROGRESS and len(self.served) < self.limit:
            self.send("status", priority)
        await asyncio.sleep(0)  # the request's round trip
        self.slots.release()


def test_a_flood_of_higher_priorities_never_holds_an_event_back_for_good() -> None:
    async def scenario() -> None:
        slots = RequestSlots(1)
        await slots.acquire()
        flood = Flood(slots, limit=100)
        event = flood.send("event", Priority.BEST_EFFORT)
        create = flood.send("create", Priority.WORK)
        for _ in range(3):
            flood.send("status", Priority.PROGRESS)
        await asyncio.sleep(0)
        slots.release()
        await asyncio.wait_for(asyncio.gather(event, create), timeout=5)
        served = flood.served
        # The oldest waiter goes first at every FAIR_SHARE-th hand-over; otherwise
        # priorities hold: the status writes keep most of the slot.
        assert served.index("event") < FAIR_SHARE
        assert served.index("create") < 2 * FAIR_SHARE
        assert set(served[: served.index("event")]) == {"status"}
        while flood.pending:
            await flood.pending.pop()
        assert not slots.locked()

    asyncio.run(scenario())
