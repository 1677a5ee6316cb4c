"""Prometheus metrics: what SREs graph and alert on."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from bluegreen.api.enums import Outcome, Phase

PHASES = tuple(Phase)
"""Every phase gets a series, 0 or 1, so a query never sees one vanish mid-release."""
OUTCOMES = tuple(Outcome)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
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
            "Check results",
            ["namespace", "release", "stage", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            "bluegreen_reconcile_errors",
            "Reconciles that raised",
            ["namespace", "release"],
            registry=r,
        )
        self.terraform_runs = Counter(
            "bluegreen_terraform_runs",
            "Terraform operations",
            ["namespace", "release", "operation"],
            registry=r,
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

    def set_phase(self, namespace: str, release: str, phase: str) -> None:
        for candidate in PHASES:
            self.phase.labels(namespace, release, candidate).set(1 if candidate == phase else 0)
        # Counters a release will move start at 0 in the first scrape that sees the
        # release: created at 1, their first increment is invisible to increase().
        for outcome in OUTCOMES:
            self.releases.labels(namespace, release, outcome)
        self.switches.labels(namespace, release)

    def set_deadline(self, namespace: str, release: str, phase: str, when: float | None) -> None:
        """One series per release at most: the deadline of the phase it is in now."""
        for candidate in PHASES:
            if candidate != phase or when is None:
                try:
                    self.deadline.remove(namespace, release, candidate)
                except KeyError:
                    continue
        if when is not None:
            self.deadline.labels(namespace, release, phase).set(when)

    def forget(self, namespace: str, release: str) -> None:
        for candidate in PHASES:
            try:
                self.phase.remove(namespace, release, candidate)
            except KeyError:
                continue
        for outcome in OUTCOMES:
            with contextlib.suppress(KeyError):
                self.releases.remove(namespace, release, outcome)
        with contextlib.suppress(KeyError):
            self.switches.remove(namespace, release)
        self.set_deadline(namespace, release, "", None)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        start_http_server(port, addr=address, registry=self.registry)
