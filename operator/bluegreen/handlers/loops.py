"""One reconcile loop per release, started and stopped from the release cache.

A kopf daemon per release would do the same, but kopf keeps each daemon's
object as it last arrived, managedFields and all, next to the slimmed copy in
our cache: about a third of the operator's memory at a thousand releases. The
loops here read only the cache, and kopf keeps just the finalizer
(``handlers.release``).

Watch events (of the release or of what it owns) wake a loop at once; the
timeout of its wait covers deadlines (readiness, hold) decided in core. A loop
runs while kopf runs (started by the startup handler, stopped by cleanup), so
only while this replica leads; and stops when its release is being deleted,
before the finalizer cleans up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bluegreen.adapters.caches import Caches
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.handlers.wakeups import Wakeups
from bluegreen.reconciler import Reconciler

log = logging.getLogger("bluegreen.loops")

Key = tuple[str, str]
IDLE_RESYNC_SECONDS = 300.0
"""A slow safety net: a missed watch event costs at most this much delay."""
ERROR_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
SWEEP_SECONDS = 30.0
"""How often the set of loops is compared with the cache, beside the cache's own news."""
STOP_GRACE_SECONDS = 2.0
"""A loop asked to stop finishes its step this long before it is cancelled."""


class ReleaseLoops:
    def __init__(self, caches: Caches, reconciler: Reconciler, wakeups: Wakeups) -> None:
        self.caches, self.reconciler, self.wakeups = caches, reconciler, wakeups
        self.releases = caches.releases
        self.loops: dict[Key, asyncio.Task[None]] = {}
        self._stopping: set[Key] = set()
        self._stoppers: set[asyncio.Task[None]] = set()
        self._ready = False
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="release-loops")

    def changed(self, namespace: str, name: str) -> None:
        """The release cache took news of this release: start or stop its loop."""
        if not self._ready:
            return  # the first sweep, once every cache has listed, starts them all
        item = self.releases.get(namespace, name)
        key = (namespace, name)
        if item is None or item["metadata"].get("deletionTimestamp"):
            # Gone from the cache (deleted without our finalizer, say): once its loop
            # stopped, nothing here speaks of it any more. A release being deleted is
            # forgotten by its finalizer, which still reports on the cleanup.
            gone = item is None
            if key in self.loops and key not in self._stopping:
                self._stopping.add(key)
                stopper = asyncio.create_task(self.stop(namespace, name, forget=gone))
                self._stoppers.add(stopper)
                stopper.add_done_callback(self._stoppers.discard)
            elif gone and key not in self.loops:
                self.reconciler.forget(namespace, name)
        elif key not in self.loops or self.loops[key].done():
            self.loops[key] = asyncio.create_task(
                self._run(namespace, name), name=f"release/{namespace}/{name}"
            )

    async def stop(self, namespace: str, name: str, forget: bool = False) -> None:
        """Stop one loop; its step in flight gets a short grace, then is cancelled.

        Any instant is a safe one to stop at (every step is idempotent, all
        progress is in the status); the grace only spares a step's work. With
        ``forget``, what the process keeps of the release goes once the loop is
        stopped, unless the release came back meanwhile.
        """
        key = (namespace, name)
        task = self.loops.get(key)
        try:
            if task is not None:
                self._stopping.add(key)
                self.wakeups.wake(namespace, name)
                done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
                if not done:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        finally:
            self.loops.pop(key, None)
            self._stopping.discard(key)
            if forget and self.releases.get(namespace, name) is None:
                self.reconciler.forget(namespace, name)

    async def close(self) -> None:
        self._ready = False  # news arriving while the caches close starts nothing
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await asyncio.gather(*(self.stop(ns, name) for ns, name in list(self.loops)))

    def sweep(self) -> None:
        """Loops for every release in the cache, none for a release that is gone."""
        for namespace, name in list(self.releases.objects):
            self.changed(namespace, name)
        for namespace, name in list(self.loops):
            if self.releases.get(namespace, name) is None:
                self.changed(namespace, name)

    async def _sweep_forever(self) -> None:
        # Nothing is observed before every cache has listed once: an empty cache
        # would look like a cluster without the release's objects.
        await self.caches.all.wait_synced()
        self._ready = True
        while True:
            self.sweep()
            await asyncio.sleep(SWEEP_SECONDS)

    async def _run(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        wake = self.wakeups.signal(namespace, name)
        errors = 0
        while key not in self._stopping:
            wake.clear()
            try:
                delay = await self.reconciler.reconcile(namespace, name)
                errors = 0
            except KubeError as err:
                if err.namespace_terminating:
                    # Nothing can be created there any more; the release's deletion follows.
                    log.info("namespace %s is being deleted; %s waits for it", namespace, name)
                    delay = IDLE_RESYNC_SECONDS
                else:
                    delay = ERROR_BACKOFF[min(errors, len(ERROR_BACKOFF) - 1)]
                    errors += 1
                    log.warning(
                        "%s/%s: reconcile failed (%s); retrying in %.0fs",
                        namespace,
                        name,
                        err,
                        delay,
                    )
            except Exception:
                delay = ERROR_BACKOFF[min(errors, len(ERROR_BACKOFF) - 1)]
                errors += 1
                log.exception("%s/%s: reconcile crashed; retrying in %.0fs", namespace, name, delay)
            if key in self._stopping:
                break
            timeout = IDLE_RESYNC_SECONDS if delay is None else delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timeout)
