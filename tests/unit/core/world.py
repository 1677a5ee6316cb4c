"""An in-memory cluster behind the reconciler's ports, and a driver running the real one.

Nothing here is a mock: the world keeps real state (Deployments with replica
counts, Services with selectors and cluster IPs, endpoints derived from the
stable Service's selector and ready pods, check Jobs), produces ``Observed``
snapshots, and carries out the actions ``decide()`` asks for as the real
``Executor`` calls them through the ports of ``world_ports``; HTTP checks are
answered by resolving their URL to the pods it reaches. While applying actions it
checks the invariants of DESIGN.md and records every breach in
``world.violations``; tests assert that list stays empty.

``Namespace`` holds several releases side by side: each sees it through a
``ReleaseView`` (a ``World``) sharing the namespace's Services and per-Service
EndpointSlices, filtered by release as the reconciler's observe filters the API.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bluegreen.adapters.http_checks import HttpCheckOutcome
from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.metrics import Metrics
from bluegreen.api.v1alpha1 import (
    HOOK_LABEL,
    HOOK_POINT_LABEL,
    PREVIOUS_REVISION_ENV,
    RELEASE_ENV,
    REVISION_ENV,
)
from bluegreen.core import checks as chk
from bluegreen.core import names
from bluegreen.core.actions import (
    Action,
    ApplyInfrastructure,
    CheckDrift,
    ClearActionAnnotation,
    CreateDeployment,
    CreateJob,
    DeleteDeployment,
    DeleteJob,
    DeleteJobs,
    DestroyInfrastructure,
    EmitEvent,
    PatchSelector,
    RunHttpCheck,
    RunMetricCheck,
    ScaleDeployment,
)
from bluegreen.core.conditions import TRUE, ConditionType
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decide import decide
from bluegreen.core.decision import Decision
from bluegreen.core.errors import SpecError
from bluegreen.core.infrastructure import DriftReport, InfrastructureOutputs
from bluegreen.core.metric_checks import QueryOutcome, QueryResult
from bluegreen.core.observed import (
    DeploymentState,
    JobState,
    Observed,
    ServiceState,
)
from bluegreen.core.revision import compute_revision
from bluegreen.core.spec import ReleaseSpec, parse_spec
from bluegreen.core.status import ReleaseStatus
from bluegreen.core.timefmt import parse_time
from bluegreen.reconciler import Reconciler, ReconcilerSettings
from bluegreen.reconciler.execute import Executor

from .world_ports import (
    Effects,
    KilledError,
    LoopInProgress,
    WorldChecks,
    WorldInfrastructure,
    WorldKube,
    WorldObserver,
    WorldPrometheus,
    deployment_document,
    merge,
    release_annotations,
)

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
STABLE_IP = "10.96.0.10"
PREVIEW_IP = "10.96.0.11"


# --------------------------------------------------------------------------- specs


def template(image: str, **extra_labels: str) -> dict[str, Any]:
    labels = {"app": "shop", **extra_labels}
    return {
        "metadata": {"labels": labels},
        "spec": {
            "containers": [{"name": "app", "image": image, "ports": [{"containerPort": 5000}]}]
        },
    }


def http_check(name: str, path: str = "/", **extra: Any) -> dict[str, Any]:
    return {"name": name, "http": {"path": path, "expectStatus": 200, **extra}}


ERROR_RATE_QUERY = (
    'sum(rate(app_requests_total{namespace="{{namespace}}",revision="{{revision}}",'
    'code=~"5.."}[{{window}}])) / sum(rate(app_requests_total{namespace="{{namespace}}",'
    'revision="{{revision}}"}[{{window}}]))'
)


def metric_check(name: str, query: str = ERROR_RATE_QUERY, **fields: Any) -> dict[str, Any]:
    """A metric check as a release author writes it; ``fields`` in their wire spelling."""
    return {"name": name, "metric": {"query": query, **fields}}


def job_check(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "job": {
            "template": {
                "template": {
                    "spec": {"containers": [{"name": "e2e", "image": "curlimages/curl:8.8.0"}]}
                }
            },
            "timeoutSeconds": 120,
        },
    }


def make_spec(
    image: str = "shop:v1",
    *,
    replicas: int = 3,
    hold: int = 0,
    smoke: Sequence[Mapping[str, Any]] = (),
    hold_checks: Sequence[Mapping[str, Any]] = (),
    hold_interval: int = 30,
    auto: bool = True,
    approved: str | None = None,
    readiness_timeout: int = 300,
    variables: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    promotion: dict[str, Any] = {"auto": auto}
    if approved:
        promotion["approvedRevision"] = approved
    return {
        "replicas": replicas,
        "template": template(image),
        "service": {"name": "shop", "type": "ClusterIP", "port": 80, "targetPort": 5000},
        "previewService": {"name": "shop-preview"},
        "infrastructure": {"terraform": {"variables": dict(variables or {})}},
        "checks": {"readiness": {"timeoutSeconds": readiness_timeout}, "smoke": list(smoke)},
        "promotion": promotion,
        "hold": {
            "seconds": hold,
            "checks": list(hold_checks),
            "checkIntervalSeconds": hold_interval,
        },
    }


def revision_of(raw_spec: Mapping[str, Any]) -> str:
    return compute_revision(raw_spec["template"])


# --------------------------------------------------------------------------- state


@dataclass
class FakeDeployment:
    name: str
    revision: str
    image: str
    replicas: int
    pod_labels: dict[str, str]
    ready: int = 0
    generation: int = 1
    deleting: bool = False
    served: bool = False
    """The stable Service selected it at least once (it may be rolled back to)."""
    template_changed: bool = False
    """Someone edited its pod template by hand."""
    uid: str = ""
    restarts: int = 0
    """Container restarts of its pods (a crash loop counts up)."""

    def state(self) -> DeploymentState:
        return DeploymentState(
            name=self.name,
            revision=self.revision,
            image=self.image,
            replicas=self.replicas,
            ready_replicas=self.ready,
            available_replicas=self.ready,
            updated_replicas=self.replicas,
            generation=self.generation,
            observed_generation=self.generation,
            deleting=self.deleting,
            template_changed=self.template_changed,
            uid=self.uid,
            restarts=self.restarts,
        )


@dataclass
class FakeService:
    name: str
    cluster_ip: str
    port: int
    selector: dict[str, str] | None = None
    owner: str | None = "shop"
    """The release named in its labels; None for a Service the operator did not create."""
    adopt: str | None = None
    """The release its adopt annotation names, if any."""


@dataclass
class FakeJob:
    name: str
    revision: str
    check: str
    stage: str
    target_url: str
    state: str = "running"  # running | succeeded | failed
    message: str = ""
    hook: bool = False
    """A migration hook's Job: ``check`` is the hook's name, ``stage`` its point."""


@dataclass
class Applied:
    """One action as the world carried it out, for tests to inspect."""

    action: Action
    now: datetime
    crashed: bool = False


@dataclass
class World:
    """The cluster of one release, in memory."""

    name: str = "shop"
    namespace: str = "shop"
    uid: str = "uid-1"
    generation: int = 1
    module_checksum: str = "module-v1"
    infrastructure_retry_seconds: float = 60
    drain_seconds: float = 0

    deployments: dict[str, FakeDeployment] = field(default_factory=dict)
    services: dict[str, FakeService] = field(default_factory=dict)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    stable_name: str = "shop"
    """The stable Service the current spec names."""
    foreign_deployments: set[str] = field(default_factory=set)
    """Names of Deployments in the namespace that are not this release's."""
    exposing_services: list[str] = field(default_factory=list)
    """Other Services whose selector matches the release's pods."""
    annotation: str | None = None
    events: list[EmitEvent] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    superseded_writes: int = 0
    """Status writes dropped unsent because news arrived first."""

    # knobs the tests turn
    auto_ready: bool = True
    """Pods of every Deployment become ready (up to ``ready_cap``) at each observation."""
    ready_cap: dict[str, int] = field(default_factory=dict)
    """revision -> the most pods that can be ready (a crash-looping image: 0)."""
    auto_jobs: bool = True
    """Running Jobs finish at each observation, per ``job_outcomes``."""
    http_outcomes: dict[tuple[str, str], bool] = field(default_factory=dict)
    """(check name, revision reached) -> passes; missing means it passes."""
    job_outcomes: dict[tuple[str, str], bool] = field(default_factory=dict)
    """(check name, revision reached) -> succeeds; missing means it succeeds."""
    metric_values: dict[tuple[str, str], float | str | None] = field(default_factory=dict)
    """(check name, revision) -> what its query gives: a number, None (no data),
    ``"unreachable"`` or ``"rejected"``; missing means 0.0."""
    prometheus_answer: str | None = None
    """When set, every query is answered so: ``"unreachable"`` or ``"rejected"``."""
    metric_queries: list[RunMetricCheck] = field(default_factory=list)
    """Every metric evaluation asked, in order."""
    endpoints_lag: bool = False
    """When True the EndpointSlices keep showing their last synced content."""
    infra_failure: str | None = None
    """When set, Terraform applies fail with this message."""
    drifted: bool = False

    # what the world remembers for the invariants
    smoke_passed: dict[str, set[str]] = field(default_factory=dict)
    """revision -> smoke checks that passed against pods of that revision."""
    hook_outcomes: dict[tuple[str, str], bool] = field(default_factory=dict)
    """(hook name, revision) -> its Job succeeds; missing means it succeeds."""
    hooks_succeeded: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(point, revision) -> hooks whose Job succeeded."""
    hook_jobs: list[tuple[str, str, str]] = field(default_factory=list)
    """(point, hook, revision) of every hook Job created, in order."""
    ever_served: bool = False
    _endpoints: dict[str, int] = field(default_factory=dict)
    _preview_endpoints: dict[str, int] = field(default_factory=dict)
    _routed: dict[str, str | None] = field(default_factory=dict)
    """Service name -> the revision its traffic reaches as of the last EndpointSlice
    sync: kube-proxy follows a selector only once the slices do."""
    _last_spec: str | None = None

    # the release object itself, as the reconciler reads and writes it
    raw_spec: Mapping[str, Any] = field(default_factory=dict)
    status_doc: dict[str, Any] = field(default_factory=dict)
    resource_version: int = 1
    _metrics: Metrics | None = None

    def metrics(self) -> Metrics:
        if self._metrics is None:
            self._metrics = Metrics()
        return self._metrics

    def release_body(self) -> dict[str, Any]:
        return {
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "uid": self.uid,
                "generation": self.generation,
                "resourceVersion": str(self.resource_version),
                "annotations": release_annotations(self.annotation),
            },
            "spec": copy.deepcopy(dict(self.raw_spec)),
            "status": copy.deepcopy(self.status_doc),
        }

    def write_status(self, patch: Mapping[str, Any]) -> str:
        self.status_doc = merge(self.status_doc, patch)
        self.resource_version += 1
        return str(self.resource_version)

    def deployment_json(self, name: str) -> dict[str, Any] | None:
        dep = self._by_name(name)
        if dep is None:
            return None
        return deployment_document(
            dep.name,
            dep.revision,
            self.uid,
            replicas=dep.replicas,
            ready=dep.ready,
            deleting=dep.deleting,
            template_changed=dep.template_changed,
            uid=dep.uid,
        )

    # ------------------------------------------------------------ the release's identity

    def ctx(self) -> ReleaseContext:
        return ReleaseContext(
            name=self.name,
            namespace=self.namespace,
            uid=self.uid,
            generation=self.generation,
            module_checksum=self.module_checksum,
            infrastructure_retry_seconds=self.infrastructure_retry_seconds,
            drain_seconds=self.drain_seconds,
        )

    def see_spec(self, raw_spec: Mapping[str, Any]) -> None:
        """The API server bumps metadata.generation whenever the spec changes."""
        service = raw_spec.get("service")
        if isinstance(service, Mapping) and service.get("name"):
            self.stable_name = str(service["name"])
        text = repr(raw_spec)
        if self._last_spec is not None and text != self._last_spec:
            self.generation += 1
        self._last_spec = text

    # ------------------------------------------------------------ pods, endpoints, jobs

    def set_ready(self, revision: str, ready: int | None = None) -> None:
        dep = self.deployments[revision]
        dep.ready = dep.replicas if ready is None else max(0, min(ready, dep.replicas))

    def settle_pods(self) -> None:
        for dep in self.deployments.values():
            if dep.deleting:
                continue
            cap = self.ready_cap.get(dep.revision, dep.replicas)
            dep.ready = min(dep.replicas, cap)

    def finish_jobs(self) -> None:
        for job in self.jobs.values():
            if job.state != "running":
                continue
            if job.hook:
                ok = self.hook_outcomes.get((job.check, job.revision), True)
                job.state = "succeeded" if ok else "failed"
                job.message = "" if ok else "BackoffLimitExceeded"
                if ok:
                    done = self.hooks_succeeded.setdefault((job.stage, job.revision), set())
                    done.add(job.check)
                continue
            reached = self.resolve(job.target_url)
            ok = reached is not None and self.job_outcomes.get((job.check, reached), True)
            job.state = "succeeded" if ok else "failed"
            job.message = f"reached {reached}" if reached else "target unreachable"
            if ok and job.stage == chk.SMOKE and reached is not None:
                self.smoke_passed.setdefault(reached, set()).add(job.check)

    def stable(self) -> FakeService | None:
        return self.services.get("shop")

    def selected_revision(self, service: FakeService | None) -> str | None:
        if service is None or not service.selector:
            return None
        return service.selector.get(names.REVISION_LABEL)

    def stable_revision(self) -> str | None:
        return self.selected_revision(self.stable())

    def live_endpoints(self, service: FakeService | None = None) -> dict[str, int]:
        """Ready pods matched by a Service's selector (the stable one's by default), per
        revision."""
        service = service or self.stable()
        if service is None or not service.selector:
            return {}
        out: dict[str, int] = {}
        for dep in self.deployments.values():
            if dep.deleting or dep.ready <= 0:
                continue
            if all(dep.pod_labels.get(k) == v for k, v in service.selector.items()):
                out[dep.revision] = dep.ready
        return out

    def sync_endpoints(self) -> None:
        self._endpoints = self.live_endpoints()
        preview = self.services.get("shop-preview")
        self._preview_endpoints = self.live_endpoints(preview) if preview else {}
        self._routed = {name: self.selected_revision(svc) for name, svc in self.services.items()}

    def resolve(self, url: str) -> str | None:
        """The revision whose ready pods a URL reaches, or None (connection refused)."""
        host = urlsplit(url).hostname or ""
        for svc in self.services.values():
            if host in (svc.cluster_ip, f"{svc.name}.{self.namespace}.svc"):
                revision = self._routed.get(svc.name, self.selected_revision(svc))
                dep = self.deployments.get(revision or "")
                if dep is None or dep.deleting or dep.ready <= 0:
                    return None
                return revision
        return None

    # ------------------------------------------------------------ observation

    def observe(self) -> Observed:
        # Deletions requested earlier have completed by now.
        self.deployments = {r: d for r, d in self.deployments.items() if not d.deleting}
        if self.auto_ready:
            self.settle_pods()
        if self.auto_jobs:
            self.finish_jobs()
        if not self.endpoints_lag:
            self.sync_endpoints()

        def service_state(name: str) -> ServiceState | None:
            svc = self.services.get(name)
            if svc is None:
                return None
            return ServiceState(
                name=svc.name,
                exists=True,
                selector=dict(svc.selector) if svc.selector is not None else None,
                cluster_ip=svc.cluster_ip,
                port=svc.port,
                owned=svc.owner == self.name,
                adoptable=svc.adopt == self.name,
            )

        return Observed(
            generation=self.generation,
            deployments={r: d.state() for r, d in self.deployments.items()},
            stable=service_state(self.stable_name),
            preview=service_state("shop-preview"),
            stable_endpoints=dict(self._endpoints),
            preview_endpoints=dict(self._preview_endpoints),
            jobs={
                j.name: JobState(
                    name=j.name,
                    revision=j.revision,
                    succeeded=j.state == "succeeded",
                    failed=j.state == "failed",
                    message=j.message,
                )
                for j in self.jobs.values()
            },
            action=self.annotation,
            foreign_deployments=frozenset(self.foreign_deployments),
            exposing_services=tuple(self.exposing_services),
        )

    # ------------------------------------------------------------ actions

    def apply(  # noqa: PLR0912 (one branch per kind of action)
        self,
        action: Action,
        spec: ReleaseSpec | None,
        decision: Decision,
        now: datetime,
        before: ReleaseStatus,
    ) -> Any:
        """Carry out one action the executor asked for through a port.

        Returns what the port answers: outputs of an apply, a drift report, a
        check's outcome; raises ``InfrastructureError`` as a failing apply does.
        ``before`` is the stored status the decision was made from.
        """
        self.applied.append(Applied(action, now))
        match action:
            case ApplyInfrastructure():
                return self._apply_infrastructure(action)
            case CheckDrift():
                return DriftReport(self.drifted, "drift" if self.drifted else "")
            case DestroyInfrastructure():
                self.services.clear()
            case CreateDeployment():
                self._create_deployment(action.manifest)
            case ScaleDeployment():
                dep = self._by_name(action.name)
                if dep is not None and dep.replicas != action.replicas:
                    dep.replicas = action.replicas
                    dep.generation += 1
                    dep.ready = min(dep.ready, dep.replicas)
            case DeleteDeployment():
                self._check_delete(action, decision, now, before)
                dep = self.deployments.get(action.revision)
                if dep is not None:
                    dep.deleting = True
            case PatchSelector():
                self._check_patch(action, spec)
                self._patch(action)
            case RunHttpCheck():
                return self._run_http_check(action)
            case RunMetricCheck():
                return self._run_metric_check(action)
            case CreateJob():
                self._create_job(action.manifest)
            case DeleteJob():
                self.jobs.pop(action.name, None)
            case DeleteJobs():
                self.jobs = {
                    n: j for n, j in self.jobs.items() if j.revision in action.keep_revisions
                }
            case ClearActionAnnotation():
                if self.annotation == action.raw:
                    self.annotation = None
            case EmitEvent():
                self.events.append(action)
        return None

    def _apply_infrastructure(self, action: ApplyInfrastructure) -> InfrastructureOutputs:
        if self.infra_failure:
            raise InfrastructureError(self.infra_failure)
        for svc_name, ip in (
            (action.inputs.service_name, STABLE_IP),
            (action.inputs.preview_service_name, PREVIEW_IP),
        ):
            # Terraform ignores selector changes: an existing Service keeps its selector.
            existing = self.services.get(svc_name)
            if existing is None:
                self.services[svc_name] = FakeService(svc_name, ip, action.inputs.service_port)
            elif existing.owner != self.name:
                if existing.adopt != self.name:
                    self.violations.append(f"applied over foreign Service {svc_name}")
                    raise InfrastructureError("ServiceNotOwned")
                existing.owner = self.name  # adopted: the module stamps our labels
        return InfrastructureOutputs(
            stable_service=action.inputs.service_name,
            preview_service=action.inputs.preview_service_name,
            stable_cluster_ip=STABLE_IP,
            preview_cluster_ip=PREVIEW_IP,
        )

    def _patch(self, action: PatchSelector) -> None:
        svc = self.services.get(action.service)
        if svc is None:
            self.violations.append(f"patched missing Service {action.service}")
            return
        if svc.owner != self.name:
            self.violations.append(f"patched foreign Service {action.service}")
            return
        svc.selector = dict(action.selector)
        if action.stable:
            self.ever_served = True
            dep = self.deployments.get(action.revision)
            if dep is not None:
                dep.served = True

    def _run_http_check(self, action: RunHttpCheck) -> HttpCheckOutcome:
        reached = self.resolve(action.url)
        ok = reached is not None and self.http_outcomes.get((action.check.name, reached), True)
        if ok and action.stage == chk.SMOKE and reached is not None:
            self.smoke_passed.setdefault(reached, set()).add(action.check.name)
        message = f"reached {reached}" if reached else "connection refused"
        return HttpCheckOutcome(passed=ok, attempts=1, message=message)

    def _run_metric_check(self, action: RunMetricCheck) -> list[QueryResult]:
        """Prometheus' answers: the check's value for its revision, then the baseline's.

        The revisions are read back from the rendered queries, as Prometheus would
        select series by them: a query about the wrong revision gets that one's value.
        """
        self.metric_queries.append(action)
        spec = action.check.metric
        assert spec is not None
        answers = [self._metric_answer(action.check.name, action.query.promql)]
        if action.baseline is not None:
            answers.append(self._metric_answer(action.check.name, action.baseline.promql))
        if action.stage == chk.SMOKE and self._metric_passes(action, answers):
            self.smoke_passed.setdefault(action.revision, set()).add(action.check.name)
        return answers

    def _metric_answer(self, check: str, promql: str) -> QueryResult:
        revision = next((d.revision for d in self.deployments.values() if d.revision in promql), "")
        value = self.prometheus_answer or self.metric_values.get((check, revision), 0.0)
        if value is None:
            return QueryResult(QueryOutcome.NO_DATA, message="no series")
        if isinstance(value, str):
            return QueryResult(QueryOutcome(value), message=f"world: {value}")
        return QueryResult.of(value)

    @staticmethod
    def _metric_passes(action: RunMetricCheck, answers: list[QueryResult]) -> bool:
        """The world's own reading of a smoke evaluation, for the switch invariant: within
        its bounds, or without an answer under onInconclusive: Pass."""
        spec = action.check.metric
        assert spec is not None
        if any(a.outcome != QueryOutcome.VALUE for a in answers):
            rejected = any(a.outcome == QueryOutcome.REJECTED for a in answers)
            return not rejected and spec.on_inconclusive == "Pass"
        value = answers[0].value
        base = answers[1].value if len(answers) > 1 else value
        rise = value - base
        return (
            (spec.max is None or value <= spec.max)
            and (spec.min is None or value >= spec.min)
            and (spec.max_increase is None or rise <= spec.max_increase)
            and (
                spec.max_increase_percent is None
                or rise <= abs(base) * spec.max_increase_percent / 100
            )
        )

    def _by_name(self, name: str) -> FakeDeployment | None:
        return next((d for d in self.deployments.values() if d.name == name), None)

    def _create_deployment(self, manifest: Mapping[str, Any]) -> None:
        meta = manifest["metadata"]
        revision = meta["labels"][names.REVISION_LABEL]
        existing = self.deployments.get(revision)
        if existing is not None:
            return  # AlreadyExists (also while it is being deleted)
        pod_template = manifest["spec"]["template"]
        selector = manifest["spec"]["selector"]["matchLabels"]
        pod_labels = dict(pod_template["metadata"]["labels"])
        if any(pod_labels.get(k) != v for k, v in selector.items()):
            self.violations.append(f"Deployment {meta['name']} selector misses its pods")
        self.deployments[revision] = FakeDeployment(
            name=meta["name"],
            revision=revision,
            image=pod_template["spec"]["containers"][0]["image"],
            replicas=manifest["spec"]["replicas"],
            pod_labels=pod_labels,
        )
        # A fresh Deployment must earn its smoke checks again.
        self.smoke_passed.pop(revision, None)

    def _create_job(self, manifest: Mapping[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        if name in self.jobs:
            return
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e["value"] for e in container["env"]}
        labels = manifest["metadata"]["labels"]
        if HOOK_LABEL in labels:
            self._create_hook_job(name, labels, env)
            return
        self.jobs[name] = FakeJob(
            name=name,
            revision=manifest["metadata"]["labels"][names.REVISION_LABEL],
            check=manifest["metadata"]["labels"][names.CHECK_LABEL],
            stage=env["BLUEGREEN_STAGE"],
            target_url=env["BLUEGREEN_TARGET_URL"],
        )

    def _create_hook_job(
        self, name: str, labels: Mapping[str, str], env: Mapping[str, str]
    ) -> None:
        """A hook's Job, checked against the hooks' invariants as it is created."""
        point, hook = labels[HOOK_POINT_LABEL], labels[HOOK_LABEL]
        revision = labels[names.REVISION_LABEL]
        if hook in self.hooks_succeeded.get((point, revision), set()):
            self.violations.append(f"{point} hook {hook} of {revision} ran again after success")
        if env[REVISION_ENV] != revision or env[RELEASE_ENV] != self.name:
            self.violations.append(f"hook Job {name} told the wrong release or revision")
        previous = env[PREVIOUS_REVISION_ENV]
        if point == "postCleanup":
            held = self.deployments.get(previous)
            if held is not None and not held.deleting:
                self.violations.append(f"contract hook {hook} ran while {previous} still exists")
            if self.stable_revision() != revision:
                self.violations.append(
                    f"contract hook {hook} of {revision} ran while the stable Service "
                    f"selects {self.stable_revision()}"
                )
        self.hook_jobs.append((point, hook, revision))
        self.jobs[name] = FakeJob(
            name=name, revision=revision, check=hook, stage=point, target_url="", hook=True
        )

    # ------------------------------------------------------------ invariants

    def _check_patch(self, action: PatchSelector, spec: ReleaseSpec | None) -> None:
        expected = names.revision_selector(self.name, action.revision)
        if dict(action.selector) != expected:
            self.violations.append(f"selector {dict(action.selector)} is not {expected}")
        if spec is None:
            self.violations.append("patched a selector with an invalid spec")
            return
        allowed = {spec.service.name, spec.preview_service_name}
        if action.service not in allowed:
            self.violations.append(f"patched unknown Service {action.service}")
        if action.stable != (action.service == spec.service.name):
            self.violations.append(f"PatchSelector.stable wrong for {action.service}")
        if not action.stable:
            return
        dep = self.deployments.get(action.revision)
        if dep is None or dep.deleting:
            self.violations.append(f"stable switched to absent revision {action.revision}")
            return
        if dep.replicas < 1 or dep.ready < dep.replicas:
            self.violations.append(
                f"stable switched to {action.revision} with {dep.ready}/{dep.replicas} ready"
            )
        if dep.served:
            return  # switching back to a revision that served before (a rollback)
        expanded = self.hooks_succeeded.get(("preSwitch", action.revision), set())
        unexpanded = {h.name for h in spec.hooks.pre_switch} - expanded
        if unexpanded:
            self.violations.append(
                f"stable switched to {action.revision} before preSwitch hooks {sorted(unexpanded)}"
            )
        missing = {c.name for c in spec.smoke_checks} - self.smoke_passed.get(
            action.revision, set()
        )
        if missing:
            self.violations.append(
                f"stable switched to {action.revision} before smoke checks {sorted(missing)}"
            )

    def _check_delete(
        self, action: DeleteDeployment, decision: Decision, now: datetime, before: ReleaseStatus
    ) -> None:
        if action.revision == self.stable_revision():
            self.violations.append(f"deleted {action.revision} while the stable Service selects it")
        if before.active is not None and before.active.revision == action.revision:
            self.violations.append(f"deleted the active revision {action.revision}")
        previous = before.previous
        if previous is None or previous.revision != action.revision:
            return
        delete_after = parse_time(previous.delete_after)
        if delete_after is not None and now >= delete_after:
            return
        # A newer switch retires the older hold: the new active's predecessor is held instead.
        switched = any(
            isinstance(a, PatchSelector) and a.stable and a.revision != action.revision
            for a in decision.actions
        )
        held = decision.status.previous
        if not switched or (held is not None and held.revision == action.revision):
            self.violations.append(f"deleted held previous {action.revision} before deleteAfter")


# --------------------------------------------------------------------------- the driver


@dataclass
class StepResult:
    status: ReleaseStatus
    decisions: list[Decision]
    iterations: int
    crashed: bool = False

    @property
    def actions(self) -> list[Action]:
        return [a for d in self.decisions for a in d.actions]

    @property
    def last(self) -> Decision:
        return self.decisions[-1]


def store(status: ReleaseStatus) -> ReleaseStatus:
    """What the API server keeps: the status as JSON-able data, read back."""
    return ReleaseStatus.from_dict(copy.deepcopy(status.to_dict()))


def step(
    world: World,
    raw_spec: Mapping[str, Any],
    status: ReleaseStatus,
    now: datetime,
    *,
    max_loops: int = 40,
    crash_at: tuple[int, int] | None = None,
    check: Callable[[World, Mapping[str, Any], ReleaseStatus, Decision, datetime], None]
    | None = None,
    news: asyncio.Event | None = None,
) -> StepResult:
    """One wake-up of the real ``Reconciler`` and ``Executor`` over the world's ports.

    The release's stored status is ``status``; the reconciler observes, decides,
    acts and writes status, again at once while ``continue_now``, at most
    ``max_loops`` times (a restart then goes on from the written status).
    ``crash_at=(i, n)`` kills the operator in loop ``i`` before its ``n``-th
    effect (or before that loop's status write when it has fewer): what the
    loop did stands, its status is never written. ``check`` sees every
    decision with the stored status it was made from. ``news``: the release's
    wake-up signal as the reconciler sees it (set: a watch brought news).
    """
    world.see_spec(raw_spec)
    try:
        spec: ReleaseSpec | None = parse_spec(raw_spec)
    except SpecError:
        spec = None
    world.raw_spec, world.status_doc = raw_spec, copy.deepcopy(status.to_dict())
    effects = Effects(world)
    effects.crash_at = crash_at
    decisions: list[Decision] = []
    written_before: list[dict[str, Any]] = []

    def audited_decide(
        ctx: ReleaseContext,
        spec_seen: Mapping[str, Any],
        stored: ReleaseStatus,
        observed: Observed,
        at: datetime,
    ) -> Decision:
        decision = decide(ctx, spec_seen, stored, observed, at)
        if decide(ctx, spec_seen, stored, observed, at) != decision:
            world.violations.append("decide() is not deterministic")
        if check is not None:
            check(world, spec_seen, stored, decision, at)
        effects.loop = LoopInProgress(spec, stored, decision, at, index=len(decisions))
        decisions.append(decision)
        written_before.append(copy.deepcopy(world.status_doc))
        return decision

    kube = WorldKube(effects)
    reconciler = Reconciler(
        kube,
        WorldObserver(effects),
        Executor(
            kube,
            WorldInfrastructure(effects),
            WorldChecks(effects),
            world.metrics(),
            prometheus=WorldPrometheus(effects),
        ),
        world.metrics(),
        ReconcilerSettings(
            drift_interval_seconds=0,
            infrastructure_retry_seconds=world.infrastructure_retry_seconds,
            drain_seconds=world.drain_seconds,
            max_steps=max_loops,
        ),
        clock=lambda: now,
        decide=audited_decide,
        news=lambda namespace, name: news,
    )
    crashed = False
    try:
        asyncio.run(reconciler.reconcile(world.namespace, world.name))
    except KilledError:
        crashed = True
    if crash_at is not None and not crashed and crash_at[0] < len(decisions):
        # That loop wrote nothing (its status did not change): it dies before returning.
        crashed = True
        world.status_doc = written_before[crash_at[0]]
    stored_now = ReleaseStatus.from_dict(copy.deepcopy(world.status_doc))
    return StepResult(stored_now, decisions, len(decisions), crashed=crashed)


# --------------------------------------------------------------------------- helpers


@dataclass
class Release:
    """A release under test: its world, spec, stored status and clock."""

    spec: dict[str, Any]
    world: World = field(default_factory=World)
    status: ReleaseStatus = field(default_factory=ReleaseStatus)
    now: datetime = T0
    steps: list[StepResult] = field(default_factory=list)

    def step(self, **kwargs: Any) -> StepResult:
        result = step(self.world, self.spec, self.status, self.now, **kwargs)
        self.status = result.status
        self.steps.append(result)
        return result

    def advance(self, seconds: float) -> StepResult:
        self.now = later(self.now, seconds)
        return self.step()

    def run(self, times: int, every: float = 0) -> StepResult:
        result = self.step()
        for _ in range(times - 1):
            result = self.advance(every)
        return result

    def actions(self) -> list[Action]:
        return [a.action for a in self.world.applied]

    def actions_of(self, kind: type[Any]) -> list[Any]:
        return [a for a in self.actions() if isinstance(a, kind)]

    def reasons(self) -> list[str]:
        return [e.reason for e in self.world.events]


def condition(status: ReleaseStatus, kind: str) -> str | None:
    cond = status.condition(kind)
    return cond.status if cond else None


def is_ready(status: ReleaseStatus) -> bool:
    return condition(status, ConditionType.READY) == TRUE


def is_stalled(status: ReleaseStatus) -> bool:
    return condition(status, ConditionType.STALLED) == TRUE


def phase_is(status: ReleaseStatus, *phases: str) -> bool:
    return status.phase in phases


def later(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


# --------------------------------------------------------------------------- a shared namespace


@dataclass
class Namespace:
    """Several releases in one namespace: Services, EndpointSlices and names are shared.

    Each release sees the namespace through its own ``ReleaseView`` (a ``World``),
    filtered the way the reconciler's observe filters the API: Deployments by the
    release label and the controller uid, Services by the names its spec gives,
    ``owned`` from the release label. Every Service has its own EndpointSlices
    (``slices``), which lag behind selectors and pods while ``endpoints_lag``.
    Breaches of the namespace's invariants land in ``violations``.
    """

    name: str = "shop"
    services: dict[str, FakeService] = field(default_factory=dict)
    releases: dict[str, ReleaseView] = field(default_factory=dict)
    lookalikes: dict[str, str | None] = field(default_factory=dict)
    """Deployments nobody's release controls: name -> the release label they carry."""
    slices: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    """Service name -> ready endpoints per (release label, revision label) of their pods."""
    endpoints_lag: bool = False
    rename_destroys_old: bool = True
    """Terraform replaces a renamed Service (the old one is destroyed); the plain-API
    infrastructure leaves it behind."""
    tracked: dict[str, set[str]] = field(default_factory=dict)
    """release -> the Service names its infrastructure state manages."""
    selector_writers: dict[str, str] = field(default_factory=dict)
    """Service name -> the release that last patched its selector."""
    violations: list[str] = field(default_factory=list)
    _next_ip: int = 20

    def release(self, name: str, uid: str | None = None) -> ReleaseView:
        view = ReleaseView(name=name, namespace=self.name, uid=uid or f"uid-{name}", ns=self)
        view.stable_name, view.preview_name = name, f"{name}-preview"
        self.releases[name] = view
        return view

    def allocate_ip(self) -> str:
        self._next_ip += 1
        return f"10.96.1.{self._next_ip}"

    def pods(self) -> list[tuple[dict[str, str], int]]:
        """(pod labels, ready pods) of every Deployment of the namespace."""
        found: list[tuple[dict[str, str], int]] = []
        for view in self.releases.values():
            for dep in view.deployments.values():
                if not dep.deleting and dep.ready > 0:
                    found.append((dep.pod_labels, dep.ready))
        return found

    def live_slices(self, service: FakeService) -> dict[tuple[str, str], int]:
        if not service.selector:
            return {}
        out: dict[tuple[str, str], int] = {}
        for labels, ready in self.pods():
            if all(labels.get(k) == v for k, v in service.selector.items()):
                key = (labels.get(names.RELEASE_LABEL, ""), labels.get(names.REVISION_LABEL, ""))
                out[key] = out.get(key, 0) + ready
        return out

    def sync_endpoints(self) -> None:
        self.slices = {name: self.live_slices(svc) for name, svc in self.services.items()}

    def deployment_owner(self, name: str) -> str | None:
        """The release controlling the Deployment called ``name``, if any."""
        for release, view in self.releases.items():
            if any(d.name == name for d in view.deployments.values()):
                return release
        return None

    def snapshot(self) -> dict[str, Any]:
        """Everything a release could write, for before/after comparisons."""
        return {
            "services": {
                n: (s.owner, s.adopt, dict(s.selector or {}), s.cluster_ip, s.port)
                for n, s in self.services.items()
            },
            "deployments": {
                r: {rev: (d.name, d.replicas, d.deleting) for rev, d in v.deployments.items()}
                for r, v in self.releases.items()
            },
            "jobs": {r: sorted(v.jobs) for r, v in self.releases.items()},
        }


@dataclass
class ReleaseView(World):
    """One release of a ``Namespace``: its Deployments and Jobs, the namespace's Services."""

    ns: Namespace = field(default_factory=Namespace)
    preview_name: str = "shop-preview"
    desired: str = ""
    """The revision the current spec asks for."""
    template_labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.services = self.ns.services  # shared, never copied

    def see_spec(self, raw_spec: Mapping[str, Any]) -> None:
        super().see_spec(raw_spec)
        preview = raw_spec.get("previewService")
        name = preview.get("name") if isinstance(preview, Mapping) else None
        self.preview_name = str(name or f"{self.stable_name}-preview")
        pod_template = raw_spec.get("template")
        if isinstance(pod_template, Mapping):
            self.desired = compute_revision(pod_template)
            labels = (pod_template.get("metadata") or {}).get("labels") or {}
            self.template_labels = {str(k): str(v) for k, v in labels.items()}

    def stable(self) -> FakeService | None:
        return self.services.get(self.stable_name)

    def live_endpoints(self) -> dict[str, int]:
        stable = self.stable()
        if stable is None:
            return {}
        live = self.ns.live_slices(stable)
        return {rev: n for (rel, rev), n in live.items() if rel == self.name}

    def sync_endpoints(self) -> None:
        self.ns.sync_endpoints()

    def lagging_endpoints(self) -> dict[tuple[str, str], int]:
        """What the stable Service's EndpointSlices list now (possibly stale)."""
        return dict(self.ns.slices.get(self.stable_name, {}))

    def resolve(self, url: str) -> str | None:
        host = urlsplit(url).hostname or ""
        for svc in self.services.values():
            if host not in (svc.cluster_ip, f"{svc.name}.{self.namespace}.svc"):
                continue
            if svc.owner != self.name or not svc.selector:
                return None
            if svc.selector.get(names.RELEASE_LABEL) != self.name:
                return None
            revision = svc.selector.get(names.REVISION_LABEL)
            synced = self.ns.slices.get(svc.name)
            if synced is not None:
                # Traffic goes where the slices point, which lag behind the selector;
                # of several revisions the worst case: one the selector left.
                routed = sorted(
                    {rev for (rel, rev), n in synced.items() if rel == self.name and n > 0},
                    key=lambda rev: rev == revision,
                )
                revision = routed[0] if routed else None
            dep = self.deployments.get(revision or "")
            if dep is None or dep.deleting or dep.ready <= 0:
                return None
            return revision
        return None

    def foreign_names(self) -> frozenset[str]:
        """As observe() finds them: look-alikes labelled for us, and the candidate's name."""
        found = {n for n, label in self.ns.lookalikes.items() if label == self.name}
        wanted = names.deployment_name(self.name, self.desired) if self.desired else ""
        own = {d.name for d in self.deployments.values()}
        if wanted and wanted not in own and wanted in self.ns.lookalikes:
            found.add(wanted)
        return frozenset(found)

    def exposing(self) -> tuple[str, ...]:
        """Other Services whose selector matches the desired revision's pod labels."""
        if not self.desired:
            return ()
        labels = {**self.template_labels, **names.revision_labels(self.name, self.desired)}
        found = []
        for svc in self.services.values():
            if svc.name in (self.stable_name, self.preview_name) or not svc.selector:
                continue
            if all(labels.get(k) == v for k, v in svc.selector.items()):
                found.append(svc.name)
        return tuple(sorted(found))

    def observe(self) -> Observed:
        self.deployments = {r: d for r, d in self.deployments.items() if not d.deleting}
        if self.auto_ready:
            self.settle_pods()
        if self.auto_jobs:
            self.finish_jobs()
        if not self.ns.endpoints_lag:
            self.ns.sync_endpoints()
        slices = self.lagging_endpoints()
        self._endpoints = {rev: n for (rel, rev), n in slices.items() if rel == self.name}
        unknown = sum(n for (rel, _), n in slices.items() if rel != self.name)
        preview_slices = self.ns.slices.get(self.preview_name, {})

        def service_state(name: str) -> ServiceState | None:
            svc = self.services.get(name)
            if svc is None:
                return ServiceState(name=name, exists=False)
            return ServiceState(
                name=svc.name,
                exists=True,
                selector=dict(svc.selector) if svc.selector is not None else None,
                cluster_ip=svc.cluster_ip,
                port=svc.port,
                owned=svc.owner == self.name,
                adoptable=svc.adopt == self.name,
            )

        return Observed(
            generation=self.generation,
            deployments={r: d.state() for r, d in self.deployments.items()},
            stable=service_state(self.stable_name),
            preview=service_state(self.preview_name),
            stable_endpoints=dict(self._endpoints),
            stable_unknown_endpoints=unknown,
            preview_endpoints={
                rev: n for (rel, rev), n in preview_slices.items() if rel == self.name
            },
            preview_unknown_endpoints=sum(
                n for (rel, _), n in preview_slices.items() if rel != self.name
            ),
            jobs={
                j.name: JobState(
                    name=j.name,
                    revision=j.revision,
                    succeeded=j.state == "succeeded",
                    failed=j.state == "failed",
                    message=j.message,
                )
                for j in self.jobs.values()
            },
            action=self.annotation,
            foreign_deployments=self.foreign_names() | frozenset(self.foreign_deployments),
            exposing_services=self.exposing() + tuple(self.exposing_services),
        )

    def apply(
        self,
        action: Action,
        spec: ReleaseSpec | None,
        decision: Decision,
        now: datetime,
        before: ReleaseStatus,
    ) -> Any:
        self._check_namespace(action)
        if isinstance(action, DestroyInfrastructure):
            self.applied.append(Applied(action, now))
            self.violations.append("decide() destroyed infrastructure")
            return None
        result = super().apply(action, spec, decision, now, before)
        if isinstance(action, PatchSelector):
            self.ns.selector_writers[action.service] = self.name
        return result

    def deployment_json(self, name: str) -> dict[str, Any] | None:
        """Read by the executor right before a switch: only ever our own Deployment."""
        if self._by_name(name) is None:
            self.violations.append(f"{self.name} switched to {name}, not its own")
        return super().deployment_json(name)

    def _check_delete_in_namespace(self, action: DeleteDeployment) -> None:
        """Only our own Deployment, and only once the stable Service's slices left it."""
        if action.name != names.deployment_name(self.name, action.revision):
            self.violations.append(f"deleted {action.name}, not a name of {self.name}")
        dep = next((d for d in self.deployments.values() if d.name == action.name), None)
        if dep is None:
            owner = self.ns.deployment_owner(action.name)
            if owner is not None or action.name in self.ns.lookalikes:
                self.violations.append(f"{self.name} deleted foreign {action.name}")
        elif action.uid and action.uid != dep.uid:
            self.violations.append(f"deleted {action.name} with a stale uid")
        listed = self.lagging_endpoints().get((self.name, action.revision), 0)
        if listed > 0:
            self.violations.append(
                f"{self.name} deleted {action.name} while the EndpointSlices of "
                f"{self.stable_name} list {listed} ready endpoints of it"
            )

    def _check_namespace(self, action: Action) -> None:
        """What a release may touch in a shared namespace, checked as it is carried out."""
        own = {d.name: d for d in self.deployments.values()}
        match action:
            case DeleteDeployment():
                self._check_delete_in_namespace(action)
            case ScaleDeployment():
                if action.name not in own:
                    self.violations.append(f"{self.name} scaled {action.name}, not its own")
            case PatchSelector():
                svc = self.services.get(action.service)
                if svc is not None and svc.owner != self.name:
                    self.violations.append(
                        f"{self.name} patched {action.service} owned by {svc.owner}"
                    )
                if dict(action.selector).get(names.RELEASE_LABEL) != self.name:
                    self.violations.append(f"{self.name} selected foreign pods {action.selector}")
                if action.ready_deployment and action.ready_deployment not in own:
                    self.violations.append(
                        f"{self.name} switched to {action.ready_deployment}, not its own"
                    )
            case CreateDeployment():
                name = action.manifest["metadata"]["name"]
                owner = self.ns.deployment_owner(name)
                if (owner not in (None, self.name)) or name in self.ns.lookalikes:
                    self.violations.append(f"{self.name} created over foreign Deployment {name}")
            case _:
                pass

    def _create_deployment(self, manifest: Mapping[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        if name in self.ns.lookalikes or self.ns.deployment_owner(name) not in (None, self.name):
            return  # AlreadyExists: the name is taken by an object that is not ours
        super()._create_deployment(manifest)
        revision = manifest["metadata"]["labels"][names.REVISION_LABEL]
        dep = self.deployments.get(revision)
        if dep is not None and not dep.uid:
            dep.uid = f"{self.uid}/{name}/{len(self.applied)}"

    def _apply_infrastructure(self, action: ApplyInfrastructure) -> InfrastructureOutputs:
        if self.infra_failure:
            raise InfrastructureError(self.infra_failure)
        inputs = action.inputs
        wanted = [inputs.service_name, inputs.preview_service_name]
        for svc_name in wanted:
            existing = self.services.get(svc_name)
            if existing is not None and self.name not in (existing.owner, existing.adopt):
                self.violations.append(
                    f"{self.name} applied over {svc_name} owned by {existing.owner}"
                )
                raise InfrastructureError("ServiceNotOwned")
        for svc_name in wanted:
            existing = self.services.get(svc_name)
            if existing is None:
                self.services[svc_name] = FakeService(
                    svc_name, self.ns.allocate_ip(), inputs.service_port, owner=self.name
                )
            elif existing.owner != self.name:
                existing.owner, existing.adopt = self.name, None  # adopted
        if self.ns.rename_destroys_old:
            for old in self.ns.tracked.get(self.name, set()) - set(wanted):
                svc = self.services.get(old)
                if svc is not None and svc.owner == self.name:
                    del self.services[old]
                    self.ns.slices.pop(old, None)
        self.ns.tracked[self.name] = set(wanted)
        ips = {n: self.services[n].cluster_ip for n in wanted}
        return InfrastructureOutputs(
            stable_service=inputs.service_name,
            preview_service=inputs.preview_service_name,
            stable_cluster_ip=ips[inputs.service_name],
            preview_cluster_ip=ips[inputs.preview_service_name],
        )
