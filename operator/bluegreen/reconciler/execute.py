"""Carry out decide()'s actions in order, folding results back into status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bluegreen.adapters.http_checks import HttpCheckOutcome
from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.adapters.metrics import Metrics
from bluegreen.adapters.prometheus import Prometheus
from bluegreen.api.conditions import Reason
from bluegreen.api.enums import (
    CheckKind,
    CheckResult,
    EventType,
    InfrastructureOperation,
    MetricVerdict,
)
from bluegreen.api.v1alpha1 import REVISION_LABEL, TEMPLATE_REVISION_ANNOTATION
from bluegreen.core import actions as act
from bluegreen.core import checks as chk
from bluegreen.core import results
from bluegreen.core.infrastructure import DriftReport
from bluegreen.core.metric_checks import MetricQuery, QueryResult
from bluegreen.core.ownership import controlled_by
from bluegreen.core.status import ReleaseStatus
from bluegreen.reconciler.ports import CheckPort, InfrastructurePort, KubePort, MetricQueryPort

log = logging.getLogger(__name__)


@dataclass
class Executor:
    kube: KubePort
    infrastructure: InfrastructurePort
    http: CheckPort
    metrics: Metrics
    infrastructure_kind: str = "Terraform"
    """Prefix of infrastructure event reasons: TerraformApplied, TerraformFailed."""
    prometheus: MetricQueryPort = field(default_factory=lambda: Prometheus(None))
    """Where metric checks ask their queries (``--prometheus-url``)."""

    async def run_checks(
        self,
        checks: Sequence[act.RunHttpCheck | act.RunMetricCheck],
        body: Mapping[str, Any],
        status: ReleaseStatus,
        now: datetime,
    ) -> ReleaseStatus:
        """A step's HTTP and metric checks, all at once; results folded in action order.

        One slow check costs its own time, never the sum of everyone's.
        """
        meta = body["metadata"]
        ns, name = meta["namespace"], meta["name"]
        http = [a for a in checks if isinstance(a, act.RunHttpCheck) and a.check.http]
        metric = [a for a in checks if isinstance(a, act.RunMetricCheck)]
        queries = [q for a in metric for q in (a.query, a.baseline) if q is not None]
        outcomes, answers = await asyncio.gather(self._http_outcomes(http), self._answers(queries))
        for action, outcome in zip(http, outcomes, strict=True):
            verdict = CheckResult.PASSED if outcome.passed else CheckResult.FAILED
            self.metrics.count_check(ns, name, action.stage, CheckKind.HTTP, verdict)
            status = results.http_check_finished(
                status, action, outcome.passed, outcome.attempts, outcome.message, now
            )
        replies = iter(answers)
        for run in metric:
            result = next(replies)
            baseline = next(replies) if run.baseline is not None else None
            status = results.metric_check_finished(status, run, result, baseline, now)
            line = chk.latest(status.checks, run.stage, run.check.name, run.revision)
            verdict = _METRIC_RESULTS.get(line.verdict if line else "", CheckResult.FAILED)
            self.metrics.count_check(ns, name, run.stage, CheckKind.METRIC, verdict)
        return status

    async def _http_outcomes(self, checks: Sequence[act.RunHttpCheck]) -> list[HttpCheckOutcome]:
        if not checks:
            return []
        return await self.http.run_all([(a.check.http, a.url) for a in checks if a.check.http])

    async def _answers(self, queries: Sequence[MetricQuery]) -> list[QueryResult]:
        return await self.prometheus.query_all(queries) if queries else []

    async def run_http_checks(
        self,
        checks: Sequence[act.RunHttpCheck],
        body: Mapping[str, Any],
        status: ReleaseStatus,
        now: datetime,
    ) -> ReleaseStatus:
        """Run a step's HTTP checks concurrently; fold their results in action order."""
        return await self.run_checks(checks, body, status, now)

    async def run(  # noqa: PLR0912  # one flat match over the action types reads best
        self,
        action: act.Action,
        body: Mapping[str, Any],
        status: ReleaseStatus,
        now: datetime,
        step_started: float,
    ) -> ReleaseStatus:
        """Carry out one action; returns the status with its result folded in."""
        meta = body["metadata"]
        ns, name, generation = meta["namespace"], meta["name"], int(meta.get("generation") or 0)
        match action:
            case act.CreateDeployment(manifest=manifest):
                return await self._create_deployment(manifest, status, generation, now)
            case act.ScaleDeployment(name=deployment, replicas=replicas):
                await self.kube.deployments.scale(ns, deployment, replicas)
            case act.DeleteDeployment(name=deployment, uid=uid, resource_version=version):
                await _delete_if_same(
                    self.kube.deployments.delete, "Deployment", ns, deployment, uid, version
                )
            case act.PatchSelector(stable=stable):
                await self._patch_selector(ns, str(meta.get("uid", "")), action)
                if stable:
                    self.metrics.switches.labels(ns, name).inc()
                    self.metrics.switch_latency.labels(ns).observe(time.monotonic() - step_started)
            case act.CreateJob():
                return await self._create_job(action, status, generation, now)
            case act.DeleteJob(name=job_name, uid=uid, resource_version=version):
                await _delete_if_same(self.kube.jobs.delete, "Job", ns, job_name, uid, version)
            case act.DeleteService(name=service, uid=uid, resource_version=version):
                await _delete_if_same(
                    self.kube.services.delete, "Service", ns, service, uid, version
                )
            case act.DeleteJobs(keep_revisions=keep):
                for job in await self.kube.jobs.list_for_release(ns, name):
                    revision = (job["metadata"].get("labels") or {}).get(REVISION_LABEL)
                    owners = job["metadata"].get("ownerReferences")
                    if revision not in keep and controlled_by(owners, str(meta.get("uid", ""))):
                        await self.kube.jobs.delete(ns, job["metadata"]["name"])
            case act.ClearActionAnnotation(raw=raw):
                await self.kube.releases.clear_action(ns, name, raw)
            case act.EmitEvent(type=event_type, reason=reason, message=message):
                await self.kube.events.post(body, event_type, reason, message)
            case act.RunHttpCheck() | act.RunMetricCheck():
                return await self.run_checks([action], body, status, now)
            case act.ApplyInfrastructure(inputs=inputs, inputs_hash=digest):
                try:
                    with self.metrics.terraform_running(ns, name, InfrastructureOperation.APPLY):
                        outputs = await self.infrastructure.apply(inputs)
                except InfrastructureError as err:
                    await self._post(
                        body, results.infrastructure_event(self.infrastructure_kind, str(err))
                    )
                    return results.infrastructure_failed(status, digest, str(err), generation, now)
                await self._post(body, results.infrastructure_event(self.infrastructure_kind, None))
                return results.infrastructure_applied(status, digest, outputs, generation, now)
            case act.CheckDrift(inputs=inputs):
                try:
                    with self.metrics.terraform_running(ns, name, InfrastructureOperation.PLAN):
                        report = await self.infrastructure.detect_drift(inputs)
                except InfrastructureError as err:
                    log.warning("drift check of %s/%s failed: %s", ns, name, err)
                    return results.drift_checked(status, _unknown_drift(status), generation, now)
                event = results.drift_event(status, report)
                if event is not None:
                    await self.kube.events.post(body, EventType.WARNING, *event)
                return results.drift_checked(status, report, generation, now)
            case act.DestroyInfrastructure(inputs=inputs):
                with self.metrics.terraform_running(ns, name, InfrastructureOperation.DESTROY):
                    await self.infrastructure.destroy(inputs)
        return status

    async def _post(self, body: Mapping[str, Any], event: act.EmitEvent) -> None:
        await self.kube.events.post(body, event.type, event.reason, event.message)

    async def _create_deployment(
        self, manifest: Mapping[str, Any], status: ReleaseStatus, generation: int, now: datetime
    ) -> ReleaseStatus:
        try:
            await self.kube.deployments.create(manifest)
        except KubeError as err:
            if err.status != _INVALID:
                raise
            revision = manifest["metadata"]["labels"][REVISION_LABEL]
            message = f"the API server refused the Deployment: {err.message}"[:1024]
            return results.candidate_refused(
                status, revision, Reason.INVALID_TEMPLATE, message, generation, now
            )
        return status

    async def _create_job(
        self, action: act.CreateJob, status: ReleaseStatus, generation: int, now: datetime
    ) -> ReleaseStatus:
        try:
            await self.kube.jobs.create(action.manifest)
        except KubeError as err:
            if err.status != _INVALID:
                raise
            message = f"the API server refused the check Job: {err.message}"[:1024]
            return results.job_refused(status, action, message, generation, now)
        return status

    async def _patch_selector(self, ns: str, release_uid: str, action: act.PatchSelector) -> None:
        if action.ready_deployment:
            # decide() judged readiness from a snapshot; pods may have gone since.
            live = await self.kube.deployments.live(ns, action.ready_deployment)
            problem = _not_switchable(live, release_uid)
            if problem:
                raise StaleObservationError(
                    f"switch of {action.service} to {action.revision} skipped: {problem}"
                )
        try:
            await self.kube.services.set_selector(
                ns,
                action.service,
                action.selector,
                uid=action.uid,
                resource_version=action.resource_version,
            )
        except KubeError as err:
            if _fenced(err):
                raise StaleObservationError(
                    f"Service {action.service} changed since it was observed"
                ) from err
            raise


async def _delete_if_same(
    delete: Callable[..., Awaitable[bool]],
    kind: str,
    ns: str,
    name: str,
    uid: str,
    resource_version: str,
) -> None:
    """Delete that very object, unchanged since it was observed.

    One re-created under its name since is not ours to delete; one changed since
    is looked at again: the delete is skipped, the change wakes the release, and
    the next step decides on what it sees (a settled release collects Deployments
    and Jobs no status block accounts for).
    """
    try:
        await delete(ns, name, uid=uid, resource_version=resource_version)
    except KubeError as err:
        if not _fenced(err):
            raise
        log.warning("%s %s/%s not deleted: changed since it was observed", kind, ns, name)


def _not_switchable(live: Mapping[str, Any] | None, release_uid: str) -> str:
    """Why a Deployment must not take traffic now; empty when it may."""
    if live is None:
        return "its Deployment is gone"
    meta = live["metadata"]
    if not controlled_by(meta.get("ownerReferences"), release_uid):
        return "its Deployment is not controlled by this release"
    if meta.get("deletionTimestamp"):
        return "its Deployment is being deleted"
    if (meta.get("annotations") or {}).get(TEMPLATE_REVISION_ANNOTATION, "1") != "1":
        return "its pod template was changed after the checks"
    wanted = int((live.get("spec") or {}).get("replicas", 1))
    ready = int((live.get("status") or {}).get("readyReplicas") or 0)
    if wanted < 1 or ready < wanted:
        return f"{ready}/{wanted} replicas ready"
    return ""


_METRIC_RESULTS: dict[str, CheckResult] = {
    MetricVerdict.PASS: CheckResult.PASSED,
    MetricVerdict.FAIL: CheckResult.FAILED,
    MetricVerdict.INCONCLUSIVE: CheckResult.INCONCLUSIVE,
}
"""bluegreen_checks_total's result label for each verdict of a metric evaluation."""

_INVALID = 422
"""The API server's verdict on an object that fails validation: retrying can't help."""


class StaleObservationError(Exception):
    """What decide() saw no longer holds; the step is dropped and the release re-observed."""


def _fenced(err: KubeError) -> bool:
    """A failed precondition: a JSON-patch ``test`` (422) or a delete precondition (409)."""
    return err.status in (409, 422)


def _unknown_drift(status: ReleaseStatus) -> DriftReport:
    """A failed plan tells nothing new: keep the last known drift flag."""
    return DriftReport(drifted=status.infrastructure.drift, summary="drift check failed")
