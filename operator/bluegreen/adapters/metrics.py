"""Prometheus metrics: what SREs graph and alert on."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Metric,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import RestrictedRegistry

from bluegreen.api.enums import (
    CheckKind,
    CheckResult,
    InfrastructureOperation,
    Outcome,
    Phase,
    RunResult,
)

PHASES = tuple(Phase)
"""Every phase gets a series, 0 or 1, so a query never sees one vanish mid-release."""
OUTCOMES = tuple(Outcome)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
"""Seconds, for reconciles (milliseconds to a minute of checks) and Terraform (seconds to
its timeout) alike."""


class Metrics:
    def __init__(self) -> None:
        self.registry: CollectorRegistry = _Registry()
        self._shown_phases: dict[tuple[str, str], str] = {}
        self._shown_deadlines: dict[tuple[str, str], tuple[str, float | None]] = {}
        """What each release's phase and deadline series show now (``set_phase``)."""
        r = self.registry
        # What every Prometheus client exports: CPU, memory, open files, start time
        # (process_*), the interpreter (python_info) and its garbage collector.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge(
            "bluegreen_build_info",
            "Always 1; the labels say which operator, Python and kopf this replica runs",
            ["version", "python_version", "kopf_version"],
            registry=r,
        )
        self.build_info.labels(
            _version("bluegreen-operator"), platform.python_version(), _version("kopf")
        ).set(1)
        self.releases = Counter(
            "bluegreen_releases",
            "Finished releases by outcome",
            ["namespace", "release", "outcome"],
            registry=r,
        )
        self.release_duration = Histogram(
            "bluegreen_release_duration_seconds",
            "From candidate created to traffic switched",
            ["namespace"],
            registry=r,
            buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 3600),
        )
        self.switch_latency = Histogram(
            "bluegreen_switch_latency_seconds",
            "Operator time from the decision to switch to the selector patch being accepted",
            ["namespace"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.switches = Counter(
            "bluegreen_traffic_switches",
            "Stable Service selector patches",
            ["namespace", "release"],
            registry=r,
        )
        self.rollbacks = Counter(
            "bluegreen_rollbacks",
            "Rollbacks by reason",
            ["namespace", "release", "reason"],
            registry=r,
        )
        self.checks = Counter(
            "bluegreen_checks",
            "Check runs by stage, kind and result (an HTTP check with all its attempts, "
            "a Job, one evaluation of a metric check)",
            ["namespace", "release", "stage", "kind", "result"],
            registry=r,
        )
        self.reconciles = Counter(
            "bluegreen_reconciles",
            "Wake-ups of a release's reconcile loop (observe, decide, act, write status, "
            "until it waits) by result: failed when one raised",
            ["namespace", "release", "result"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "bluegreen_reconcile_duration_seconds",
            "How long a wake-up of a release's reconcile loop took, by result",
            ["namespace", "result"],
            registry=r,
            buckets=DURATION_BUCKETS,
        )
        self.reconcile_errors = Counter(
            "bluegreen_reconcile_errors",
            "Reconciles that raised",
            ["namespace", "release"],
            registry=r,
        )
        self.terraform_runs = Counter(
            "bluegreen_terraform_runs",
            "Terraform operations (plain API calls with --infrastructure kubernetes) "
            "by operation and result",
            ["namespace", "release", "operation", "result"],
            registry=r,
        )
        self.terraform_duration = Histogram(
            "bluegreen_terraform_run_duration_seconds",
            "How long a Terraform operation took, by operation and result",
            ["namespace", "operation", "result"],
            registry=r,
            buckets=DURATION_BUCKETS,
        )
        self.phase = Gauge(
            "bluegreen_release_phase",
            "1 for the release's current phase, 0 otherwise",
            ["namespace", "release", "phase"],
            registry=r,
        )

        self.api_requests = Counter(
            "bluegreen_api_requests",
            "Requests this replica sent the API server (reconciles and leader election; "
            "kopf's own watches are not counted)",
            ["verb", "resource", "code"],
            registry=r,
        )
        self.deadline = Gauge(
            "bluegreen_release_deadline_timestamp_seconds",
            "When the current phase must end (Unix time): the candidate's readiness deadline "
            "while Deploying, the end of the hold while Holding; no series otherwise",
            ["namespace", "release", "phase"],
            registry=r,
        )
        self.leader = Gauge(
            "bluegreen_leader",
            "1 while this replica holds the Lease and acts; 0 while it stands by",
            registry=r,
        )

    def count_request(self, verb: str, resource: str, code: int) -> None:
        self.api_requests.labels(verb, resource, str(code)).inc()

    def count_check(
        self, namespace: str, release: str, stage: str, kind: CheckKind, result: CheckResult
    ) -> None:
        self.checks.labels(namespace, release, stage, kind, result).inc()

    def reconciling(self, namespace: str, release: str) -> AbstractContextManager[None]:
        """Count and time one wake-up of a release's reconcile loop around its block."""

        def record(result: RunResult, seconds: float) -> None:
            self.reconciles.labels(namespace, release, result).inc()
            self.reconcile_duration.labels(namespace, result).observe(seconds)

        return _timed(record)

    def terraform_running(
        self, namespace: str, release: str, operation: InfrastructureOperation
    ) -> AbstractContextManager[None]:
        """Count and time one infrastructure operation around its block."""

        def record(result: RunResult, seconds: float) -> None:
            self.terraform_runs.labels(namespace, release, operation, result).inc()
            self.terraform_duration.labels(namespace, operation, result).observe(seconds)

        return _timed(record)

    def set_phase(self, namespace: str, release: str, phase: str) -> None:
        # Every step reports its phase; most keep it. Touching the series only on
        # a change spares a thousand releases' steps a twentieth of their CPU.
        if self._shown_phases.get((namespace, release)) == phase:
            return
        self._shown_phases[(namespace, release)] = phase
        for candidate in PHASES:
            self.phase.labels(namespace, release, candidate).set(1 if candidate == phase else 0)
        # Counters a release will move start at 0 in the first scrape that sees the
        # release: created at 1, their first increment is invisible to increase().
        for outcome in OUTCOMES:
            self.releases.labels(namespace, release, outcome)
        for result in RunResult:
            self.reconciles.labels(namespace, release, result)
        self.switches.labels(namespace, release)

    def set_deadline(self, namespace: str, release: str, phase: str, when: float | None) -> None:
        """One series per release at most: the deadline of the phase it is in now."""
        if self._shown_deadlines.get((namespace, release)) == (phase, when):
            return
        self._shown_deadlines[(namespace, release)] = (phase, when)
        for candidate in PHASES:
            if candidate != phase or when is None:
                try:
                    self.deadline.remove(namespace, release, candidate)
                except KeyError:
                    continue
        if when is not None:
            self.deadline.labels(namespace, release, phase).set(when)

    def forget(self, namespace: str, release: str) -> None:
        """Drop every series of a release that is gone.

        Every family labelled by release, present and future: a series left behind
        would keep a deleted release's phase on dashboards (and its alerts firing),
        and each short-lived release (one per pull request, say) would grow the
        scrape for the life of the process.
        """
        labels = {"namespace": namespace, "release": release}
        for family in vars(self).values():
            if isinstance(family, MetricWrapperBase):
                # A family without both labels refuses them: it is not per release.
                with contextlib.suppress(ValueError):
                    family.remove_by_labels(labels)
        self._shown_phases.pop((namespace, release), None)
        self._shown_deadlines.pop((namespace, release), None)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        start_http_server(port, addr=address, registry=self.registry)


class _Registry(CollectorRegistry):
    """The operator's registry: its scrapes carry no ``*_created`` series.

    prometheus_client adds a creation timestamp beside every counter and histogram
    child; Prometheus stores it as one more series each and nothing here reads it.
    Dropping it per registry leaves the library's global switch alone.
    """

    def collect(self) -> Iterator[Metric]:
        for family in super().collect():
            yield _without_created(family)

    def restricted_registry(self, names: Iterable[str]) -> RestrictedRegistry:
        """``/metrics?name[]=...``: a ``*_created`` name selects nothing either."""
        return super().restricted_registry(n for n in names if not n.endswith("_created"))


@contextlib.contextmanager
def _timed(record: Callable[[RunResult, float], None]) -> Iterator[None]:
    """``record`` the block's result and duration: failed when it raises.

    A cancelled block (shutdown, a lost Lease) is not recorded: it neither failed
    nor succeeded.
    """
    started = time.monotonic()
    try:
        yield
    except Exception:
        record(RunResult.FAILED, time.monotonic() - started)
        raise
    record(RunResult.SUCCEEDED, time.monotonic() - started)


def _without_created(family: Metric) -> Metric:
    created = f"{family.name}_created"
    kept = [s for s in family.samples if s.name != created]
    if len(kept) == len(family.samples):
        return family
    trimmed = Metric(family.name, family.documentation, family.type, family.unit)
    trimmed.samples = kept
    return trimmed


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
