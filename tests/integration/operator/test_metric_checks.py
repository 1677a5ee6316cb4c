"""Metric checks with the operator as a real process, a real Prometheus and the real app.

KWOK pods run nothing, so each revision's "pods" are the demo app as local
processes: v1 healthy, v2 answering 500 on one request in five
(APP_ERROR_RATE=0.2). The test's own Prometheus scrapes them every second,
labelling their series with the namespace, release and revision a Kubernetes
scrape would give, three targets per revision as three pods would be. A load
generator keeps traffic on both. The checks are the sample's
(docs/examples/kpi-release.yaml): a smoke check that every candidate pod is
scraped, and error-rate and latency hold checks.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.core.revision import compute_revision
from tests.conftest import Cluster
from tests.e2e.traffic import LoadGenerator
from tests.integration.harness import REPO, Kubectl, Operator, Release, release, wait_for
from tests.integration.prometheus_harness import LocalPrometheus, static_job

NAME = "shop"
SAMPLE = REPO / "docs" / "examples" / "kpi-release.yaml"
PODS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
"""Three addresses of one app process: three scrape targets, as three pods would be."""


def sample_checks() -> dict[str, Any]:
    spec = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))["spec"]
    return {"smoke": spec["checks"]["smoke"], "hold": spec["hold"]}


class AppProcess:
    """The demo app as a local process, with the environment a bad version gets."""

    def __init__(self, version: str, **env: str) -> None:
        from tests.integration.harness import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "app" / "app.py"), "--port", str(self.port)],
            env={**os.environ, "APP_VERSION": version, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"app {version}", self._answers, timeout=30)

    def _answers(self) -> bool:
        from tests.e2e.traffic import get

        return get("127.0.0.1", self.port, "/healthz", timeout=1).ok

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def spec_for(version: str, url: str, expect: str, **hold: Any) -> dict[str, Any]:
    """The harness's release of ``version`` with the sample's checks added to its own."""
    body = release(NAME, version, url, expect, smoke=[], hold=hold.pop("seconds", 60))
    checks = copy.deepcopy(sample_checks())
    body["spec"]["checks"]["smoke"] = [
        {"name": "home", "http": {"url": url, "path": "/healthz"}},
        *checks["smoke"],
    ]
    body["spec"]["hold"] = {**checks["hold"], **hold}
    return body


@pytest.fixture(scope="module")
def world(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Apps, their traffic and a Prometheus scraping them, labelled for one namespace."""
    k = Kubectl(cluster.env)
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    namespace = f"it-kpi-{os.getpid()}"
    k.run("create", "namespace", namespace)
    apps = {"v1": AppProcess("v1"), "v2": AppProcess("v2", APP_ERROR_RATE="0.2")}
    revisions = {
        v: compute_revision(spec_for(v, apps[v].url, "")["spec"]["template"]) for v in apps
    }
    jobs = [
        static_job(
            f"app-{v}",
            [f"{pod}:{apps[v].port}" for pod in PODS],
            namespace=namespace,
            release=NAME,
            revision=revisions[v],
        )
        for v in apps
    ]
    prometheus = LocalPrometheus(tmp_path_factory.mktemp("prometheus"), jobs).start()
    loads = [
        LoadGenerator("127.0.0.1", app.port, workers=2, max_seconds=600, pause=0.02)
        for app in apps.values()
    ]
    for load in loads:
        load.__enter__()
    try:
        prometheus.wait_for_series("up == 1", count=2 * len(PODS))
        yield {
            "k": k,
            "namespace": namespace,
            "apps": apps,
            "revisions": revisions,
            "prometheus": prometheus,
        }
    finally:
        for load in loads:
            load.stop()
        prometheus.stop()
        for app in apps.values():
            app.stop()
        k.run("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture
def operator(cluster: Cluster, world: dict[str, Any], tmp_path: Path) -> Iterator[Operator]:
    process = Operator(
        cluster.env,
        world["namespace"],
        tmp_path / "operator.log",
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        "--prometheus-url",
        world["prometheus"].url,
    )
    process.start()
    yield process
    process.kill()
    print(f"operator log tail:\n{process.log.read_text()[-3000:]}")


def seconds_between(earlier: str, later: str) -> float:
    parse = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return (parse(later) - parse(earlier)).total_seconds()


def check_line(status: dict[str, Any], name: str, revision: str) -> dict[str, Any]:
    (line,) = [c for c in status["checks"] if c["name"] == name and c["revision"] == revision]
    return dict(line)


def test_a_bad_version_is_rolled_back_by_its_error_rate(
    world: dict[str, Any], operator: Operator
) -> None:
    k, apps, revisions = world["k"], world["apps"], world["revisions"]
    rel = Release(k, world["namespace"], NAME)
    rel.apply(spec_for("v1", apps["v1"].url, "V1", seconds=1))
    rel.wait_condition("Ready", timeout=90)
    scraped = check_line(rel.status(), "scraped", revisions["v1"])
    assert (scraped["phase"], scraped["value"]) == ("Passed", "3")

    window = sample_checks()["hold"]["checks"][0]["metric"]["windowSeconds"]
    rel.apply(spec_for("v2", apps["v2"].url, "V2"))
    rolled = rel.wait_phase("RolledBack", timeout=120)
    v1, v2 = revisions["v1"], revisions["v2"]
    assert rolled["active"]["revision"] == v1
    assert rel.selector()["bluegreen.dev/revision"] == v1
    errors = check_line(rolled, "error-rate", v2)
    assert (errors["phase"], errors["verdict"], errors["failures"]) == ("Failed", "Fail", 2)
    assert 0.1 < float(errors["value"]) < 0.3, errors
    assert float(errors["baseline"]) < 0.01, errors
    assert "rose by" in errors["message"] and "maxIncrease 0.05" in errors["message"]
    latency = check_line(rolled, "latency-p99", v2)
    assert latency["phase"] in ("Passed", "Running"), latency
    (entry,) = [h for h in rolled["history"] if h["revision"] == v2]
    assert entry["outcome"] == "RolledBack"
    condition = rel.condition("Stalled")
    assert condition["reason"] == "RolledBack" or "hold check error-rate" in str(condition)
    # Switched, then rolled back within the window and two evaluations.
    switched = next(
        c["time"]
        for c in rolled["checks"]
        if c["name"] == "scraped" and c["revision"] == v2 and c["phase"] == "Passed"
    )
    took = seconds_between(switched, entry["finishedAt"])
    print(f"[kpi] v2 (20% errors) rolled back {took:.0f}s after its checks passed")
    assert took <= window + 2 * 2 + 10
    assert re.search(r'bluegreen_checks_total\{[^}]*kind="metric"', operator.metrics())
    assert 'stage="hold"' in operator.metrics()


def test_prometheus_unreachable_waits_then_fails_the_candidate(
    cluster: Cluster, world: dict[str, Any], tmp_path: Path
) -> None:
    """No Prometheus at the flag's address: the smoke check waits, then fails at its deadline."""
    from tests.integration.harness import free_port

    process = Operator(
        cluster.env,
        world["namespace"],
        tmp_path / "operator.log",
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        "--prometheus-url",
        f"http://127.0.0.1:{free_port()}",
    )
    process.start()
    try:
        rel = Release(world["k"], world["namespace"], "offline")
        body = spec_for("v1", world["apps"]["v1"].url, "V1", seconds=1)
        body["metadata"]["name"] = "offline"
        body["spec"]["service"]["name"] = "offline"
        body["spec"]["previewService"]["name"] = "offline-preview"
        body["spec"]["checks"]["smoke"][1]["metric"]["inconclusiveTimeoutSeconds"] = 4
        started = time.monotonic()
        rel.apply(body)
        waiting = wait_for(
            "the smoke check waiting for Prometheus",
            lambda: [
                c for c in rel.status().get("checks") or [] if c.get("verdict") == "Inconclusive"
            ],
            timeout=60,
        )
        assert "Prometheus unreachable: ClientConnectorError" in waiting[0]["message"]
        stalled = rel.wait_condition("Stalled", timeout=60)
        assert stalled["reason"] == "SmokeCheckFailed"
        assert "inconclusive for" in stalled["message"]
        assert time.monotonic() - started < 60
        assert not rel.selector(), "never served"
    finally:
        process.kill()
