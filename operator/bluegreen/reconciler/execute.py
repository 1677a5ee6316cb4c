"""Carry out decide()'s actions in order, folding results back into status."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bluegreen.adapters.http_checks import HttpChecker
from bluegreen.adapters.infrastructure import Infrastructure, InfrastructureError
from bluegreen.adapters.kube import Kube
from bluegreen.adapters.metrics import Metrics
from bluegreen.core import actions as act
from bluegreen.core import results
from bluegreen.core.infrastructure import DriftReport
from bluegreen.core.status import ReleaseStatus

log = logging.getLogger(__name__)


@dataclass
class Executor:
    kube: Kube
    infrastructure: Infrastructure
    http: HttpChecker
    metrics: Metrics
    infrastructure_kind: str = "Terraform"
    """Prefix of infrastructure event reasons: TerraformApplied, TerraformFailed."""

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
                await self.kube.deployments.create(manifest)
            case act.ScaleDeployment(name=deployment, replicas=replicas):
                await self.kube.deployments.scale(ns, deployment, replicas)
            case act.DeleteDeployment(name=deployment):
                await self.kube.deployments.delete(ns, deployment)
            case act.PatchSelector(service=service, selector=selector, stable=stable):
                await self.kube.services.set_selector(ns, service, selector)
                if stable:
                    self.metrics.switches.labels(ns, name).inc()
                    self.metrics.switch_latency.labels(ns).observe(time.monotonic() - step_started)
            case act.CreateJob(manifest=manifest):
                await self.kube.jobs.create(manifest)
            case act.DeleteJobs(keep_revisions=keep):
                for job in await self.kube.jobs.list_for_release(ns, name):
                    revision = (job["metadata"].get("labels") or {}).get("bluegreen.dev/revision")
                    if revision not in keep:
                        await self.kube.jobs.delete(ns, job["metadata"]["name"])
            case act.ClearActionAnnotation(raw=raw):
                await self.kube.releases.clear_action(ns, name, raw)
            case act.EmitEvent(type=event_type, reason=reason, message=message):
                await self.kube.events.post(body, event_type, reason, message)
            case act.RunHttpCheck():
                assert action.check.http is not None
                outcome = await self.http.run(action.check.http, action.url)
                self.metrics.checks.labels(
                    ns, name, action.stage, "passed" if outcome.passed else "failed"
                ).inc()
                return results.http_check_finished(
                    status, action, outcome.passed, outcome.attempts, outcome.message, now
                )
            case act.ApplyInfrastructure(inputs=inputs, inputs_hash=digest):
                self.metrics.terraform_runs.labels(ns, name, "apply").inc()
                try:
                    outputs = await self.infrastructure.apply(inputs)
                except InfrastructureError as err:
                    await self.kube.events.post(
                        body, "Warning", f"{self.infrastructure_kind}Failed", str(err)
                    )
                    return results.infrastructure_failed(status, digest, str(err), generation, now)
                await self.kube.events.post(
                    body, "Normal", f"{self.infrastructure_kind}Applied", "infrastructure applied"
                )
                return results.infrastructure_applied(status, digest, outputs, generation, now)
            case act.CheckDrift(inputs=inputs):
                self.metrics.terraform_runs.labels(ns, name, "plan").inc()
                try:
                    report = await self.infrastructure.detect_drift(inputs)
                except InfrastructureError as err:
                    log.warning("drift check of %s/%s failed: %s", ns, name, err)
                    return results.drift_checked(status, _unknown_drift(status), generation, now)
                event = results.drift_event(status, report)
                if event is not None:
                    await self.kube.events.post(body, "Warning", *event)
                return results.drift_checked(status, report, generation, now)
            case act.DestroyInfrastructure(inputs=inputs):
                self.metrics.terraform_runs.labels(ns, name, "destroy").inc()
                await self.infrastructure.destroy(inputs)
        return status


def _unknown_drift(status: ReleaseStatus) -> DriftReport:
    """A failed plan tells nothing new: keep the last known drift flag."""
    return DriftReport(drifted=status.infrastructure.drift, summary="drift check failed")
