"""A request waits for one of its session's connections; with ``unless`` it can give up.

``_take`` is what ``KubeRest.request`` awaits before it sends: a request that
gave up has taken no slot and sent nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from bluegreen.adapters.kube_rest import SupersededError, _take


def test_news_while_every_slot_is_busy_drops_the_request_unsent() -> None:
    async def scenario() -> None:
        slots = asyncio.Semaphore(1)
        await slots.acquire()  # the one connection is busy
        news = asyncio.Event()
        waiting = asyncio.ensure_future(_take(slots, news))
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
        slots = asyncio.Semaphore(1)
        await slots.acquire()
        news = asyncio.Event()
        news.set()
        with pytest.raises(SupersededError):
            await _take(slots, news)

    asyncio.run(scenario())


def test_a_free_slot_is_taken_even_with_news() -> None:
    async def scenario() -> None:
        slots = asyncio.Semaphore(1)
        news = asyncio.Event()
        news.set()
        await _take(slots, news)  # no wait: sent at once, news can't starve it
        assert slots.locked()

    asyncio.run(scenario())


def test_a_slot_freed_before_any_news_is_kept_and_the_request_goes_out() -> None:
    async def scenario() -> None:
        slots = asyncio.Semaphore(1)
        await slots.acquire()
        news = asyncio.Event()
        waiting = asyncio.ensure_future(_take(slots, news))
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
        slots = asyncio.Semaphore(1)
        await slots.acquire()
        waiting = asyncio.ensure_future(_take(slots, asyncio.Event()))
        await asyncio.sleep(0)
        slots.release()  # granted to the waiter ...
        waiting.cancel()  # ... which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not slots.locked()

    asyncio.run(scenario())
