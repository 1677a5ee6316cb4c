"""Hostile checks against the operator's event loop: liveness latency under attack.

Releases whose smoke checks aim at misbehaving servers on 127.0.0.1 (bytes
trickled one per second, bodies past the read cap, a catastrophic-backtracking
regex on a 64 KiB body, endless chunked bodies and headers, a gzip bomb,
redirects) and at refused targets (the cloud metadata address, the operator's
own metrics and liveness ports), 16 checks per release, all at once. Failed
releases get a new revision at once, so checks keep running for the whole
window. Meanwhile a thread GETs ``/healthz`` on the operator's liveness port
every 20 ms: every sample is one probe's full round trip, as kubelet would see
it. The same probe first runs against the idle operator, for a baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client
from tests.integration.harness import REPO, Kubectl, release

from bench.cluster import Recorder, api_client, release_ready
from bench.latency import Change, analyse, release_body
from bench.operator_process import BenchOperator, start_operator, stop_operator
from bench.stats import summary
from bluegreen.api.v1alpha1 import GROUP, PLURAL, VERSION

PROBE_INTERVAL_S = 0.02
PROBE_TIMEOUT_S = 5.0
SLOW_S = 0.05
TARGET_MS = 100.0
"""Most a release author may delay the liveness probe (or another release)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check-releases", type=int, default=8, help="hostile-check releases")
    parser.add_argument("--check-seconds", type=float, default=120, help="hostile-check window")
    parser.add_argument("--check-baseline-seconds", type=float, default=20)
    parser.add_argument(
        "--check-traced-seconds",
        type=float,
        default=90,
        help="window of a second, traced pass (event-loop lag); 0: none",
    )


class Prober:
    """GET /healthz every PROBE_INTERVAL_S in its own thread; keeps each round trip."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.samples: list[float] = []
        self.failures: list[str] = []
        self.slow: list[tuple[float, float]] = []
        """(time.monotonic() at the probe's start, seconds) of probes over SLOW_S."""
        self._stop = threading.Event()

    def run_for(self, seconds: float) -> tuple[list[float], list[str]]:
        self.samples, self.failures, self.slow = [], [], []
        self._stop.clear()
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        self._stop.wait(seconds)
        self._stop.set()
        thread.join()
        return self.samples, self.failures

    def _loop(self) -> None:
        tick = time.perf_counter()
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=PROBE_TIMEOUT_S) as response:
                    response.read()
                took = time.perf_counter() - started
                self.samples.append(took)
                if took > SLOW_S:
                    self.slow.append((time.monotonic() - took, took))
            except OSError as err:
                self.failures.append(type(err).__name__)
            tick += PROBE_INTERVAL_S
            # The probe's own schedule: a fixed period, skipping ticks it fell behind on.
            delay = tick - time.perf_counter()
            if delay < 0:
                tick = time.perf_counter()
            else:
                self._stop.wait(delay)


def hostile_checks(ports: dict[str, int], operator: BenchOperator) -> list[dict[str, Any]]:
    def check(name: str, url: str, **http: Any) -> dict[str, Any]:
        return {"name": name, "http": {"url": url, "path": "/", **http}}

    local = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    return [
        check("trickle", local["trickle"], timeoutSeconds=60, attempts=2),
        check("slow-headers", local["slow_headers"], timeoutSeconds=60, attempts=2),
        check("big-body", local["big_body"], expectBody="V2", timeoutSeconds=10, attempts=10),
        check("big-body-2", local["big_body"], expectBodyRegex="V2$", attempts=10),
        check("regex", local["regex_body"], expectBodyRegex="(a+)+$", attempts=10),
        check("regex-2", local["regex_body"], expectBodyRegex="(a|aa)+$", attempts=10),
        check("regex-3", local["regex_body"], expectBodyRegex="(.*a){20}$", attempts=10),
        check("chunks", local["endless_chunks"], timeoutSeconds=30, attempts=3),
        check("gzip-bomb", local["gzip_bomb"], expectBody="x", attempts=10),
        check("headers", local["many_headers"], timeoutSeconds=30, attempts=3),
        check("redirect", local["redirect"], attempts=10),
        check("metadata", "http://169.254.169.254", attempts=10),
        check("own-metrics", f"http://127.0.0.1:{operator.metrics_port}", attempts=10),
        check("own-liveness", f"http://127.0.0.1:{operator.liveness_port}", attempts=10),
        check("healthy", local["healthy"], expectBody="App V2", attempts=1),
        check("healthy-2", local["healthy"], expectBodyRegex=r"V\d", attempts=1),
    ]


def run(
    env: dict[str, str],
    out: Path,
    *,
    releases: int,
    duration: float,
    baseline: float,
    trace: Path | None = None,
) -> dict[str, Any]:
    """One pass; with ``trace``, the operator records event-loop lag and collections."""
    k = Kubectl(env)
    namespace = f"bench-chk-{uuid.uuid4().hex[:6]}"
    k.run("create", "namespace", namespace)
    recorder = Recorder(api_client(env), namespace)
    recorder.start()
    load_before = list(os.getloadavg())
    servers = subprocess.Popen(
        # The hostile servers stand for other machines: niced, so their floods compete
        # less for the cores the operator, the control plane and the probe share here.
        ["nice", "-n", "10", sys.executable, "-m", "tests.integration.hostile_servers"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert servers.stdout is not None
        ports: dict[str, int] = json.loads(servers.stdout.readline())
        log = out / ("checks-traced-operator.log" if trace else "checks-operator.log")
        operator = start_operator(env, namespace, log, trace=trace)
        try:
            prober = Prober(operator.liveness_port)
            bystander = Bystander(recorder.api, recorder, namespace)
            bystander.start()
            idle, idle_failures = prober.run_for(baseline)
            checks = hostile_checks(ports, operator)
            names = [f"hostile-{i}" for i in range(releases)]
            feeder = Feeder(k, namespace, names, checks)
            bystander.window = "hostile"
            feeder.start()
            started = time.monotonic()
            hostile, hostile_failures = prober.run_for(duration)
            slow = prober.slow
            feeder.stop()
            bystander.stop()
            ended = time.monotonic()
            window = ended - started
            results = _check_results(operator.metrics())
        finally:
            stop_operator(operator, k, namespace)
    finally:
        recorder.stop()
        servers.terminate()
        servers.wait(timeout=10)
    return {
        "releases": releases,
        "checks_per_release": len(checks),
        "check_names": [c["name"] for c in checks],
        "revisions_applied": feeder.applied,
        "window_s": round(window, 1),
        "probe_interval_ms": PROBE_INTERVAL_S * 1000,
        "target_ms": TARGET_MS,
        "idle_ms": summary(idle),
        "idle_failures": idle_failures,
        "hostile_ms": summary(hostile),
        "hostile_failures": hostile_failures,
        "hostile_over_target": sum(1 for x in hostile if x * 1000 > TARGET_MS),
        "slow_probes": [{"start": round(t, 3), "ms": round(d * 1000, 1)} for t, d in slow],
        "check_results": results,
        "bystander_ms": bystander.summary(),
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        **({"loop": loop_lag(trace, started, ended)} if trace else {}),
    }


def loop_lag(trace: Path, start: float, end: float) -> dict[str, Any]:
    """The traced operator's event-loop lags and collections inside the hostile window.

    A lag is a 10 ms timer that ran over 20 ms late; its ``cpu`` is the CPU time the
    operator used meanwhile: about the lag when work held the loop, far less when
    the process waited for a core.
    """
    events = [json.loads(line) for line in trace.read_text().splitlines() if line]
    inside = [e for e in events if start <= e.get("start", 0) <= end]
    lags = [e for e in inside if e["kind"] == "lag"]
    gcs = [e for e in inside if e["kind"] == "gc"]
    return {
        "lags_over_20ms": len(lags),
        "max_lag_ms": round(max((e["end"] - e["start"] for e in lags), default=0) * 1000, 1),
        "max_cpu_in_a_lag_ms": round(max((e["cpu"] for e in lags), default=0) * 1000, 1),
        "lags_over_100ms": sum(1 for e in lags if e["end"] - e["start"] > 0.1),
        "max_gc_ms": round(max((e["end"] - e["start"] for e in gcs), default=0) * 1000, 1),
    }


class Bystander:
    """A release with no checks, changed again as soon as it is Ready, in its own thread.

    Its reaction times (spec change -> candidate created, Available -> switch) are
    measured from watch events exactly as in the latency benchmark, and labelled with
    the window the change was sent in: ``idle`` or ``hostile``.
    """

    NAME = "bystander"

    def __init__(self, api: client.ApiClient, recorder: Recorder, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.recorder, self.namespace = recorder, namespace
        self.window = "idle"
        self.changes: list[tuple[str, Change]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        body = release_body(self.NAME, "v0", self.namespace, 1)
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)
        self._wait_ready(None)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _wait_ready(self, generation: int | None) -> None:
        self.recorder.wait(
            f"{self.NAME} Ready",
            lambda: (
                (o := self.recorder.current("release", self.NAME)) is not None
                and release_ready(o, generation)
            ),
            timeout=120,
        )

    def _loop(self) -> None:
        version = 0
        while not self._stop.is_set():
            version += 1
            template = release_body(self.NAME, f"v{version}", self.namespace, 1)["spec"]
            window, sent = self.window, time.monotonic()
            patched = self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                self.NAME,
                {"spec": {"template": template["template"]}},
            )
            generation = int(patched["metadata"]["generation"])  # type: ignore[index]
            self.changes.append((window, Change(self.NAME, f"v{version}", generation, sent)))
            self._wait_ready(generation)

    def summary(self) -> dict[str, Any]:
        events = self.recorder.snapshot()
        rows = [(window, analyse(change, events)) for window, change in self.changes]
        return {
            window: {
                key: summary([r[key] for w, r in rows if w == window and r.get(key) is not None])
                for key in ("spec_to_candidate", "available_to_switch")
            }
            for window in ("idle", "hostile")
        }


class Feeder:
    """Keeps every hostile release checking: a Failed one gets a new revision."""

    def __init__(
        self, k: Kubectl, namespace: str, names: list[str], checks: list[dict[str, Any]]
    ) -> None:
        self.k, self.namespace, self.names, self.checks = k, namespace, names, checks
        self.applied = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._version = {name: 0 for name in names}

    def start(self) -> None:
        for name in self.names:
            self._apply(name)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _apply(self, name: str) -> None:
        self._version[name] += 1
        body = release(
            name, f"v{self._version[name]}", "", "", replicas=1, hold=0, smoke=self.checks
        )
        body["metadata"]["namespace"] = self.namespace
        self.k.apply(body)
        self.applied += 1

    def _loop(self) -> None:
        # A polling period, not a wait for a condition; one LIST per period keeps the
        # benchmark's own CPU use (a kubectl process each) small beside the operator's.
        while not self._stop.wait(2.0):
            listed = self.k.json("get", "bgr", "-n", self.namespace) or {}
            for item in listed.get("items", []):
                name = item["metadata"]["name"]
                if name in self._version and (item.get("status") or {}).get("phase") == "Failed":
                    self._apply(name)


def _check_results(metrics: str) -> dict[str, float]:
    """bluegreen_checks_total by result, summed over releases and stages."""
    totals: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("bluegreen_checks_total{"):
            labels, value = line.rsplit(" ", 1)
            result = labels.split('result="', 1)[1].split('"', 1)[0]
            totals[result] = totals.get(result, 0.0) + float(value)
    return totals
