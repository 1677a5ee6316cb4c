"""kopf's part in a release: its finalizer. The reconcile loops are ``handlers.loops``."""

from __future__ import annotations

import datetime
from typing import Any

import kopf

from bluegreen.api.v1alpha1 import GROUP, PLURAL, VERSION
from bluegreen.handlers.deps import Dependencies
from bluegreen.handlers.shard import owned_release
from bluegreen.reconciler.cleanup import CleanupBudget, CleanupRetryError


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
    # The loop stops first: no step of it may race the cleanup.
    await deps.loops.stop(namespace, name)
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
