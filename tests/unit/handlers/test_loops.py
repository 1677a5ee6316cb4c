"""The release loops: one per release in the cache, woken by its news, stopped when
it is being deleted or gone, restarted after a crash; none before the caches listed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from bluegreen.adapters.caches import Caches
from bluegreen.adapters.kube_rest import KubeRest
from bluegreen.handlers import loops as loops_module
from bluegreen.handlers.loops import ReleaseLoops
from bluegreen.handlers.wakeups import Wakeups, wake_on_change
from bluegreen.reconciler import Reconciler


class Reconciles:
    """Stands in for the Reconciler: records each reconcile, may fail on demand."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_next = 0
        self.forgotten: list[tuple[str, str]] = []

    async def reconcile(self, namespace: str, name: str) -> float | None:
        self.calls.append((namespace, name))
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("a bug")
        return None

    def count(self, name: str) -> int:
        return sum(1 for _, n in self.calls if n == name)

    def forget(self, namespace: str, name: str) -> None:
        self.forgotten.append((namespace, name))


def release(name: str, version: int, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "team", "resourceVersion": str(version)}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T00:00:00Z"
    return {"metadata": meta, "spec": {}}


async def until(what: str, condition: Callable[[], bool], seconds: float = 5) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def world() -> tuple[Caches, Reconciles, ReleaseLoops]:
    caches = Caches(cast(KubeRest, None), ("team",))
    reconciles = Reconciles()
    wakeups = Wakeups()
    loops = ReleaseLoops(caches, cast(Reconciler, reconciles), wakeups)
    caches.notify(wake_on_change(wakeups, lambda *_: False, loops.changed))
    return caches, reconciles, loops


def arrive(caches: Caches, item: dict[str, Any]) -> None:
    """As a watch event does: store, then tell."""
    caches.releases._store(item)
    caches.releases.on_change(item)


def leave(caches: Caches, item: dict[str, Any]) -> None:
    caches.releases._remove(item)
    caches.releases.on_change(item)


def synced(caches: Caches) -> None:
    for cache in caches.all.caches:
        cache.synced.set()


async def test_no_loop_runs_before_every_cache_has_listed(
    world: tuple[Caches, Reconciles, ReleaseLoops],
) -> None:
    caches, reconciles, loops = world
    loops.start()
    arrive(caches, release("shop", 1))
    await asyncio.sleep(0.05)
    assert reconciles.calls == [] and loops.loops == {}
    synced(caches)
    await until("the first reconcile", lambda: reconciles.count("shop") == 1)
    await loops.close()


async def test_news_wakes_the_loop_and_deletion_stops_it(
    world: tuple[Caches, Reconciles, ReleaseLoops],
) -> None:
    caches, reconciles, loops = world
    synced(caches)
    loops.start()
    await until("the sweeper ready", lambda: loops._ready)
    arrive(caches, release("shop", 1))
    await until("a loop", lambda: reconciles.count("shop") == 1)
    arrive(caches, release("shop", 2))
    await until("a second step", lambda: reconciles.count("shop") == 2)
    arrive(caches, release("shop", 3, deleting=True))
    await until("the loop stopped", lambda: ("team", "shop") not in loops.loops)
    steps = reconciles.count("shop")
    arrive(caches, release("shop", 4, deleting=True))
    await asyncio.sleep(0.05)
    assert reconciles.count("shop") == steps, "a release being deleted gets no loop"
    assert reconciles.forgotten == [], "its finalizer forgets it, after reporting the cleanup"
    await loops.close()


async def test_a_release_gone_from_the_cache_loses_its_loop(
    world: tuple[Caches, Reconciles, ReleaseLoops],
) -> None:
    caches, reconciles, loops = world
    synced(caches)
    arrive(caches, release("shop", 1))
    arrive(caches, release("cart", 1))
    loops.start()
    await until("two loops", lambda: reconciles.count("shop") and reconciles.count("cart"))
    leave(caches, release("cart", 2))
    await until("cart's loop gone", lambda: set(loops.loops) == {("team", "shop")})
    # Its series and what else the process kept of it go with it (deleted by
    # hand without its finalizer, say).
    assert reconciles.forgotten == [("team", "cart")]
    await loops.close()
    assert loops.loops == {}
    assert reconciles.forgotten == [("team", "cart")], "closing forgets nothing"


async def test_a_release_back_before_its_loop_stopped_is_not_forgotten(
    world: tuple[Caches, Reconciles, ReleaseLoops],
) -> None:
    caches, reconciles, loops = world
    synced(caches)
    arrive(caches, release("shop", 1))
    loops.start()
    await until("a loop", lambda: reconciles.count("shop") == 1)
    leave(caches, release("shop", 2))
    arrive(caches, release("shop", 3))  # back at once (a re-list, say)
    await until("the old loop stopped", lambda: ("team", "shop") not in loops._stopping)
    assert reconciles.forgotten == []
    await loops.close()


async def test_a_crashing_step_is_retried_with_backoff(
    world: tuple[Caches, Reconciles, ReleaseLoops], monkeypatch: pytest.MonkeyPatch
) -> None:
    caches, reconciles, loops = world
    monkeypatch.setattr(loops_module, "ERROR_BACKOFF", (0.01,))
    reconciles.fail_next = 2
    synced(caches)
    arrive(caches, release("shop", 1))
    loops.start()
    await until("a good step after two crashes", lambda: reconciles.count("shop") == 3)
    await loops.close()


async def test_news_after_close_starts_no_loop(
    world: tuple[Caches, Reconciles, ReleaseLoops],
) -> None:
    """The caches close after the loops: their last events must not start new ones."""
    caches, reconciles, loops = world
    synced(caches)
    loops.start()
    await until("the sweeper ready", lambda: loops._ready)
    await loops.close()
    arrive(caches, release("late", 1))
    await asyncio.sleep(0.05)
    assert loops.loops == {} and reconciles.count("late") == 0
