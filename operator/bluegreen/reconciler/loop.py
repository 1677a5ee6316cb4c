"""The reconcile loop of one release: observe, decide, act, write status; repeat."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.adapters.metrics import Metrics
from bluegreen.core import actions as act
from bluegreen.core.conditions import ConditionType
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decide import decide, infrastructure_inputs_for
from bluegreen.core.errors import SpecError
from bluegreen.core.merge_patch import merge_patch
from bluegreen.core.status import ReleaseStatus
from bluegreen.core.timefmt import parse_time
from bluegreen.reconciler.execute import Executor
from bluegreen.reconciler.observe import observe

log = logging.getLogger(__name__)
MAX_STEPS = 25
"""Steps per wake-up; a release needs about ten, this bounds a runaway loop."""


@dataclass(frozen=True)
class ReconcilerSettings:
    drift_interval_seconds: float = 300
    infrastructure_retry_seconds: float = 60
    drain_seconds: float = 5
    """Pods of a revision the Service left live on this long: kube-proxy needs the time."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        executor: Executor,
        metrics: Metrics,
        settings: ReconcilerSettings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.kube, self.executor, self.metrics = kube, executor, metrics
        self.settings, self.clock = settings, clock
        self.own_writes: dict[tuple[str, str], str] = {}
        """resourceVersion of our last status write per release: its watch event is no news."""

    def is_own_write(self, namespace: str, name: str, resource_version: str) -> bool:
        return self.own_writes.get((namespace, name)) == resource_version

    def context(self, body: Mapping[str, Any]) -> ReleaseContext:
        meta = body["metadata"]
        return ReleaseContext(
            name=str(meta["name"]),
            namespace=str(meta["namespace"]),
            uid=str(meta.get("uid", "")),
            generation=int(meta.get("generation") or 0),
            module_checksum=self.executor.infrastructure.module_checksum,
            drift_interval_seconds=self.settings.drift_interval_seconds,
            infrastructure_retry_seconds=self.settings.infrastructure_retry_seconds,
            drain_seconds=self.settings.drain_seconds,
        )

    async def reconcile(self, namespace: str, name: str) -> float | None:
        """Run steps until the release waits; returns seconds until the next deadline."""
        for _ in range(MAX_STEPS):
            body = await self.kube.releases.get(namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return None
            started = time.monotonic()
            observed = await observe(self.kube, body)
            stored = ReleaseStatus.from_dict(body.get("status"))
            now = self.clock()
            decision = decide(self.context(body), body.get("spec") or {}, stored, observed, now)
            status = decision.status
            try:
                for action in decision.actions:
                    status = await self.executor.run(action, body, status, now, started)
            except KubeError:
                self.metrics.reconcile_errors.labels(namespace, name).inc()
                raise
            await self._write_status(body, stored, status)
            self._record(namespace, name, stored, status, decision.actions)
            if not decision.continue_now:
                return decision.requeue_after
        return 1.0

    async def _write_status(
        self, body: Mapping[str, Any], stored: ReleaseStatus, status: ReleaseStatus
    ) -> None:
        """Write what changed, as a merge patch with explicit nulls for removed keys."""
        patch = merge_patch(dict(body.get("status") or {}), status.to_dict())
        if not patch:
            return
        meta = body["metadata"]
        version = await self.kube.releases.patch_status(meta["namespace"], meta["name"], patch)
        self.own_writes[(meta["namespace"], meta["name"])] = version

    def _record(
        self,
        namespace: str,
        name: str,
        before: ReleaseStatus,
        after: ReleaseStatus,
        actions: tuple[act.Action, ...],
    ) -> None:
        """Metrics derived from what changed in this step."""
        self.metrics.set_phase(namespace, name, after.phase)
        for entry in (
            after.history[len(before.history) :] if len(after.history) > len(before.history) else ()
        ):
            self.metrics.releases.labels(namespace, name, entry.outcome).inc()
        for action in actions:
            if not isinstance(action, act.EmitEvent):
                continue
            if action.reason == "RollbackStarted":
                condition = after.condition(ConditionType.TRAFFIC_SWITCHED)
                reason = condition.reason if condition else "Unknown"
                self.metrics.rollbacks.labels(namespace, name, reason).inc()
            elif action.reason == "TrafficSwitched" and after.active and after.history:
                started = parse_time(after.history[-1].started_at)
                switched = parse_time(after.active.switched_at)
                if started and switched:
                    self.metrics.release_duration.labels(namespace).observe(
                        (switched - started).total_seconds()
                    )

    async def finalize(self, body: Mapping[str, Any]) -> None:
        """CR deletion: remove what the release created, per deletionPolicy."""
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        for job in await self.kube.jobs.list_for_release(namespace, name):
            await self.kube.jobs.delete(namespace, job["metadata"]["name"])
        for deployment in await self.kube.deployments.list_for_release(namespace, name):
            await self.kube.deployments.delete(namespace, deployment["metadata"]["name"])
        spec = body.get("spec") or {}
        policy = (spec.get("infrastructure") or {}).get("deletionPolicy", "Delete")
        status = ReleaseStatus.from_dict(body.get("status"))
        if policy == "Delete" and status.infrastructure.applied:
            try:
                inputs = infrastructure_inputs_for(self.context(body), spec)
            except SpecError:
                log.warning("%s/%s: spec invalid at deletion; infrastructure kept", namespace, name)
            else:
                await self.executor.infrastructure.destroy(inputs)
        self.metrics.forget(namespace, name)
