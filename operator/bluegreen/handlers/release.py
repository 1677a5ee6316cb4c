"""The BlueGreenRelease handlers: one daemon per release runs its reconcile loop.

Watch events (of the release or of what it owns) wake the daemon at once;
the timeout of its wait covers deadlines (readiness, hold) decided in core.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from typing import Any

import kopf

from bluegreen.adapters.kube_rest import KubeError
from bluegreen.api.v1alpha1 import GROUP, PLURAL, VERSION
from bluegreen.handlers.deps import Dependencies
from bluegreen.handlers.shard import owned_release
from bluegreen.reconciler.cleanup import CleanupBudget, CleanupRetryError

IDLE_RESYNC_SECONDS = 300.0
"""A slow safety net: a missed watch event costs at most this much delay."""
ERROR_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=2.0, when=owned_release)
async def run_release(
    name: str,
    namespace: str | None,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    deps: Dependencies = memo["deps"]
    assert namespace, "BlueGreenRelease is namespaced"
    wake = deps.wakeups.signal(namespace, name)
    errors = 0
    # Nothing is observed before every cache has listed once: an empty cache
    # would look like a cluster without the release's objects.
    await deps.caches.all.wait_synced()
    while not stopped:
        wake.clear()
        try:
            delay = await deps.reconciler.reconcile(namespace, name)
            errors = 0
        except KubeError as err:
            if err.namespace_terminating:
                # Nothing can be created there any more; the release's deletion follows.
                logger.info("namespace %s is being deleted; the release waits for it", namespace)
                delay = IDLE_RESYNC_SECONDS
            else:
                delay = ERROR_BACKOFF[min(errors, len(ERROR_BACKOFF) - 1)]
                errors += 1
                logger.warning("reconcile failed (%s); retrying in %.0fs", err, delay)
        except Exception:
            delay = ERROR_BACKOFF[min(errors, len(ERROR_BACKOFF) - 1)]
            errors += 1
            logger.exception("reconcile crashed; retrying in %.0fs", delay)
        timeout = IDLE_RESYNC_SECONDS if delay is None else delay
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=timeout)


@kopf.on.delete(GROUP, VERSION, PLURAL, when=owned_release)
async def release_deleted(
    name: str,
    namespace: str | None,
    body: kopf.Body,
    memo: kopf.Memo,
    retry: int,
    runtime: datetime.timedelta,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Clean up, then let the finalizer go: a release can always be deleted.

    kopf keeps ``retry`` and ``runtime`` across restarts, so the bound on
    retries holds even when the operator restarts in the middle of a deletion.
    """
    deps: Dependencies = memo["deps"]
    assert namespace, "BlueGreenRelease is namespaced"
    budget = CleanupBudget(attempt=retry, elapsed_seconds=runtime.total_seconds())
    try:
        await deps.reconciler.finalize(dict(body), budget)
    except CleanupRetryError as pending:
        raise kopf.TemporaryError(f"cleanup pending: {pending}", delay=pending.delay) from pending
    except Exception as err:
        # A bug must not keep the release forever: retry within the same budget.
        if not budget.last_chance:
            raise kopf.TemporaryError(f"cleanup crashed: {err}", delay=10) from err
        logger.exception("cleanup crashed on its last try; letting the release go")
    deps.wakeups.forget(namespace, name)
    deps.observer.forget(namespace, name)
