"""The reconcile loop of one release: observe, decide, act, write status; repeat."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bluegreen.adapters.kube import StatusChangedError
from bluegreen.adapters.kube_rest import KubeError, NotLeadingError
from bluegreen.adapters.metrics import Metrics
from bluegreen.adapters.request_slots import SupersededError
from bluegreen.api.enums import CheckKind, CheckPhase, CheckResult, EventType
from bluegreen.api.timefmt import format_time
from bluegreen.core import actions as act
from bluegreen.core import checks as chk
from bluegreen.core import results, status_rejection
from bluegreen.core.bounds import bound_status_dict
from bluegreen.core.context import ReleaseContext
from bluegreen.core.deadlines import phase_deadline
from bluegreen.core.decide import decide as core_decide
from bluegreen.core.decision import SwitchKind, SwitchRecord
from bluegreen.core.merge_patch import merge_patch
from bluegreen.core.status import ReleaseStatus
from bluegreen.reconciler.cleanup import Cleanup, CleanupBudget
from bluegreen.reconciler.execute import Executor, StaleObservationError
from bluegreen.reconciler.ports import Decide, KubePort, ObservePort

log = logging.getLogger(__name__)
_CHECKS = (act.RunHttpCheck, act.RunMetricCheck)
"""Actions that only observe; a step runs them all at once."""
STATUS_WRITE_ATTEMPTS = 3
"""Conflicts tolerated in one status write while the status itself is unchanged."""


@dataclass(frozen=True)
class ReconcilerSettings:
    drift_interval_seconds: float = 300
    infrastructure_retry_seconds: float = 60
    drain_seconds: float = 5
    """Pods of a revision the Service left live on this long: kube-proxy needs the time."""
    switch_timeout_seconds: float = 120
    """How long a switch may take to show in EndpointSlices before it is undone."""
    max_steps: int = 25
    """Steps per wake-up; a release needs about ten, this bounds a runaway loop."""


Notify = Callable[[Mapping[str, Any], ReleaseStatus, ReleaseStatus], None]
"""Webhook notifications (``adapters.webhooks``): the body, the status before and after."""
News = Callable[[str, str], asyncio.Event | None]
"""A release's wake-up signal (namespace, name), set by watch events of it."""


def in_order(
    actions: Sequence[act.Action],
) -> Iterator[act.Action | list[act.RunHttpCheck | act.RunMetricCheck]]:
    """The actions one by one, except that checks standing next to each other come
    as one batch: they run together, so one slow check does not serialize the others.

    A batch never crosses another action: a decision that supersedes a held
    release runs the held revision's checks, repoints the preview Service, then
    runs the candidate's smoke checks; run earlier, those would test the
    revision the preview Service still selected and credit it to the candidate.
    """
    batch: list[act.RunHttpCheck | act.RunMetricCheck] = []
    for action in actions:
        if isinstance(action, _CHECKS):
            batch.append(action)
            continue
        if batch:
            yield batch
            batch = []
        yield action
    if batch:
        yield batch


def utc_now() -> datetime:
    return datetime.now(UTC)


class Reconciler:
    def __init__(  # the ports, the policy and the clock, all injected
        self,
        kube: KubePort,
        observer: ObservePort,
        executor: Executor,
        metrics: Metrics,
        settings: ReconcilerSettings,
        clock: Callable[[], datetime] = utc_now,
        decide: Decide = core_decide,
        notify: Notify | None = None,
        news: News | None = None,
    ) -> None:
        self.kube, self.observer, self.executor, self.metrics = kube, observer, executor, metrics
        self.settings, self.clock, self.decide = settings, clock, decide
        self.notify: Notify = notify or (lambda body, before, after: None)
        """Told of every status write that was accepted; must not wait or raise."""
        self.news: News = news or (lambda namespace, name: None)
        """The release's wake-up signal: set when a watch brings news of it."""
        self.own_writes: dict[tuple[str, str], str] = {}
        """resourceVersion of our last status write per release: its watch event is no news."""
        self.refused_writes: dict[tuple[str, str], int] = {}
        """Generation whose status write the API server refused, per release (see
        ``_write_status``); kept here too for when the refusal itself cannot be written."""

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
            switch_timeout_seconds=self.settings.switch_timeout_seconds,
        )

    async def reconcile(self, namespace: str, name: str) -> float | None:
        """Run steps until the release waits; returns seconds until the next deadline."""
        with self.metrics.reconciling(namespace, name):
            return await self._steps(namespace, name)

    async def _steps(self, namespace: str, name: str) -> float | None:
        for _ in range(self.settings.max_steps):
            body = await self.kube.releases.get(namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return None
            if self._status_refused(body):
                return None  # nothing moves until the spec changes: see _write_status
            started = time.monotonic()
            observed = await self.observer.observe(body)
            stored = ReleaseStatus.from_dict(body.get("status"))
            now = self.clock()
            decision = self.decide(
                self.context(body), body.get("spec") or {}, stored, observed, now
            )
            status = decision.status
            try:
                for batch in in_order(decision.actions):
                    if isinstance(batch, list):
                        status = await self.executor.run_checks(batch, body, status, now)
                    else:
                        status = await self.executor.run(batch, body, status, now, started)
            except StaleObservationError as stale:
                # Nothing of this decision is recorded; the next step sees the change.
                log.info("%s/%s: %s; observing again", namespace, name, stale)
                continue
            except KubeError as err:
                self.metrics.reconcile_errors.labels(namespace, name).inc()
                await self._record_step_failure(body, stored, status, err)
                raise
            # A step that acted on nothing only records what it observed. While the API
            # connections are all busy (a burst of releases) its write may wait seconds
            # in the queue, and the release with it: the news that its candidate is
            # available would wait too. Such a write is dropped unsent when news
            # arrives first; the next step starts from the same stored status and
            # records the newer observations with whatever it decides.
            news = self.news(namespace, name) if decision.only_observes(stored) else None
            try:
                await self._write_status(body, stored, status, unless=news)
            except StatusChangedError as stale:
                # Another writer moved the status: nothing of this step is recorded.
                log.info("%s/%s: %s; observing again", namespace, name, stale)
                continue
            except SupersededError:
                if news is not None:
                    news.clear()  # taken in by the step that follows at once
                continue
            self._record(namespace, name, stored, status, decision.switches)
            self.notify(body, stored, status)
            if not decision.continue_now:
                return decision.requeue_after
        return 1.0

    async def _write_status(
        self,
        body: Mapping[str, Any],
        stored: ReleaseStatus,
        status: ReleaseStatus,
        unless: asyncio.Event | None = None,
    ) -> None:
        """Write what changed, bounded, as a merge patch with explicit nulls for removed keys.

        A write the API server refuses as such (too large, invalid, denied) is
        recorded instead as Stalled/StatusRejected, and ``reconcile`` then takes
        no action for this generation: acting without recording would repeat the
        same steps forever.
        """
        _, bounded = bound_status_dict(status)
        patch = merge_patch(dict(body.get("status") or {}), bounded)
        if not patch:
            return
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        try:
            version = await self.kube.releases.patch_status_as_read(
                body, patch, STATUS_WRITE_ATTEMPTS, unless
            )
        except KubeError as err:
            if not status_rejection.is_refusal(err.status, err.message):
                raise
            await self._record_refusal(body, err)
            return
        self.own_writes[(namespace, name)] = version

    async def _record_step_failure(
        self, body: Mapping[str, Any], stored: ReleaseStatus, status: ReleaseStatus, err: KubeError
    ) -> None:
        """Write what the step did before it failed, and why it stopped; best effort.

        A replica without the Lease writes nothing (its writes are refused anyway),
        and a write that fails in turn leaves the error to the caller's backoff.
        """
        if isinstance(err, NotLeadingError) or err.namespace_terminating:
            return
        generation = int(body["metadata"].get("generation") or 0)
        failed = results.step_failed(status, err.message, generation, self.clock())
        try:
            await self._write_status(body, stored, failed)
        except (KubeError, StatusChangedError) as again:
            log.warning("recording the failed step failed too: %s", again)

    def _status_refused(self, body: Mapping[str, Any]) -> bool:
        meta = body["metadata"]
        generation = int(meta.get("generation") or 0)
        key = (str(meta["namespace"]), str(meta["name"]))
        return self.refused_writes.get(key) == generation or status_rejection.writes_refused(
            body.get("status"), generation
        )

    async def _record_refusal(self, body: Mapping[str, Any], err: KubeError) -> None:
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        generation = int(meta.get("generation") or 0)
        self.refused_writes[(namespace, name)] = generation
        log.warning("%s/%s: status write refused (%s); holding the release", namespace, name, err)
        await self.kube.events.post(
            body,
            EventType.WARNING,
            status_rejection.REASON,
            f"status write refused ({err.status}): {err.message}; no action until the spec changes",
        )
        patch = status_rejection.rejection_patch(
            body.get("status"),
            generation,
            f"{err.status}: {err.message}",
            format_time(self.clock()),
        )
        try:
            version = await self.kube.releases.patch_status(namespace, name, patch)
        except KubeError as again:
            # The hold stands in memory; the Event above tells humans why.
            log.warning("%s/%s: recording the refusal failed too: %s", namespace, name, again)
            return
        self.own_writes[(namespace, name)] = version

    def _record(
        self,
        namespace: str,
        name: str,
        before: ReleaseStatus,
        after: ReleaseStatus,
        switches: tuple[SwitchRecord, ...],
    ) -> None:
        """Metrics from what this step changed, and the traffic moves core recorded."""
        self.metrics.set_phase(namespace, name, after.phase)
        deadline = phase_deadline(after)
        when = deadline.timestamp() if deadline is not None else None
        self.metrics.set_deadline(namespace, name, after.phase, when)
        for run in chk.finished_jobs(before.checks, after.checks):
            passed = run.phase == CheckPhase.PASSED
            result = CheckResult.PASSED if passed else CheckResult.FAILED
            self.metrics.count_check(namespace, name, run.stage, CheckKind.JOB, result)
        for entry in after.history[len(before.history) :]:
            self.metrics.releases.labels(namespace, name, entry.outcome).inc()
        for switch in switches:
            if switch.kind is SwitchKind.ROLLBACK:
                self.metrics.rollbacks.labels(namespace, name, switch.reason).inc()
            elif switch.release_seconds is not None:
                self.metrics.release_duration.labels(namespace).observe(switch.release_seconds)

    async def finalize(self, body: Mapping[str, Any], budget: CleanupBudget | None = None) -> None:
        """CR deletion: remove what the release created, per deletionPolicy.

        Raises ``CleanupRetryError`` while a failing step deserves another try;
        once ``budget`` is spent it falls back, reports, and returns.
        """
        cleanup = Cleanup(self.executor, self.clock())
        await cleanup.run(self.context(body), body, budget or CleanupBudget())
        meta = body["metadata"]
        self.forget(str(meta["namespace"]), str(meta["name"]))

    def forget(self, namespace: str, name: str) -> None:
        """Drop what this process keeps of a release that is gone."""
        self.refused_writes.pop((namespace, name), None)
        self.metrics.forget(namespace, name)
