"""A bad v3, rolled back by its metric hold check, on the real node with live traffic.

Everything is real: the app runs as pods on the real node; the local cluster's
Prometheus (hack/prometheus-up.sh) finds them through Kubernetes service
discovery and scrapes them every 2 s, and scrapes the operator too; the
operator runs as a process with ``--prometheus-url``; a load generator hits the
stable Service's ClusterIP through kube-proxy, one new connection per request.

The release is the sample of docs/kpi-checks.md (docs/examples/kpi-release.yaml):
1. v1, then v2 (healthy; the sample's checks pass: every pod scraped, error
   rate not up, p99 under 500 ms);
2. v3 as the sample has it, the same image answering 500 on one request in
   five: its error-rate hold check sees the rate rise over v2's of the 20 s
   before the switch, twice in a row, and the operator switches back to v2.

Reported: time from the switch to v3 to the switch back (as a watch of the
Service saw them), and the requests that failed meanwhile.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import HACK, Cluster
from tests.e2e.conftest import RealNode, watched_namespace
from tests.e2e.test_seed_story import SelectorWatch
from tests.e2e.traffic import LoadGenerator, get
from tests.integration.harness import REPO, Kubectl, Operator, Release, wait_for

pytestmark = pytest.mark.node

SAMPLE = REPO / "docs" / "examples" / "kpi-release.yaml"
PROMETHEUS_START_TIMEOUT_S = 1200  # the first start builds Prometheus (hack/build-prometheus.sh)


def cluster_dir() -> Path:
    return Path(os.environ.get("BLUEGREEN_CLUSTER_DIR", REPO / ".cluster"))


@pytest.fixture(scope="module")
def prometheus_url(cluster: Cluster, real_node: RealNode) -> Iterator[str]:
    """The local cluster's Prometheus: started here unless it runs (make prometheus)."""
    pidfile = cluster_dir() / "pids" / "prometheus.pid"
    running = pidfile.is_file()
    up = subprocess.run(
        [str(HACK / "prometheus-up.sh")],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=PROMETHEUS_START_TIMEOUT_S,
        check=False,
    )
    if up.returncode != 0:
        pytest.fail(f"hack/prometheus-up.sh failed ({up.returncode}):\n{up.stderr[-3000:]}")
    env_file = (cluster_dir() / "prometheus" / "env").read_text(encoding="utf-8")
    url = env_file.strip().partition("=")[2]
    yield url
    keep = os.environ.get("BLUEGREEN_KEEP_CLUSTER") == "1"
    if not running and not keep and os.environ.get("BLUEGREEN_PROMETHEUS") != "1":
        subprocess.run([str(HACK / "prometheus-down.sh")], env=cluster.env, check=False)


def query(url: str, promql: str) -> list[dict[str, Any]]:
    data = urllib.parse.urlencode({"query": promql}).encode()
    with urllib.request.urlopen(f"{url}/api/v1/query", data=data, timeout=10) as answer:
        return list(json.loads(answer.read())["data"]["result"])


@pytest.fixture
def setting(
    cluster: Cluster, real_node: RealNode, prometheus_url: str, tmp_path: Path
) -> Iterator[tuple[Kubectl, str, Operator]]:
    """A namespace and the operator watching it, its /metrics scraped by Prometheus."""
    with watched_namespace(
        cluster, "e2e-kpi", tmp_path / "operator.log", "--prometheus-url", prometheus_url
    ) as (k, namespace, operator):
        registration = cluster_dir() / "prometheus" / "operators" / f"{namespace}.json"
        registration.write_text(
            json.dumps(
                [{"targets": [f"127.0.0.1:{operator.metrics_port}"], "labels": {"test": namespace}}]
            ),
            encoding="utf-8",
        )
        operator.start()
        try:
            yield k, namespace, operator
        finally:
            registration.unlink(missing_ok=True)


def sample() -> dict[str, Any]:
    return dict(yaml.safe_load(SAMPLE.read_text(encoding="utf-8")))


def version(body: dict[str, Any], app_version: str, hold_seconds: int) -> dict[str, Any]:
    """The sample as a healthy ``app_version``: its own image and text, no injected errors."""
    good = copy.deepcopy(body)
    container = good["spec"]["template"]["spec"]["containers"][0]
    container["image"] = f"spacelift-app:{app_version}"
    container["env"] = [{"name": "APP_VERSION", "value": app_version}]
    good["spec"]["hold"]["seconds"] = hold_seconds
    return good


def check_line(status: dict[str, Any], name: str, revision: str) -> dict[str, Any]:
    (line,) = [c for c in status["checks"] if c["name"] == name and c["revision"] == revision]
    return dict(line)


def release_v1(k: Kubectl, ns: str, rel: Release, prometheus_url: str) -> str:
    """v1 serves; Prometheus found its three pods by Kubernetes discovery, and the operator."""
    rel.apply(version(sample(), "v1", hold_seconds=1))
    rel.wait_condition("Ready", timeout=180)
    v1 = rel.revision()
    scraped = check_line(rel.status(), "scraped", v1)
    assert (scraped["phase"], scraped["value"]) == ("Passed", "3"), scraped
    pods = query(prometheus_url, f'up{{namespace="{ns}",revision="{v1}"}} == 1')
    listed = k.json("get", "pods", "-n", ns, "-l", f"bluegreen.dev/revision={v1}")["items"]
    assert {p["metric"]["pod"] for p in pods} == {p["metadata"]["name"] for p in listed}
    wait_for(
        "the operator's /metrics in Prometheus",
        lambda: query(prometheus_url, f'bluegreen_leader{{test="{ns}"}}'),
        timeout=30,
    )
    return v1


def release_v2(rel: Release, ns: str, v1: str, prometheus_url: str, window: int) -> str:
    """v2, healthy, passes the sample's hold checks; then serves a whole window."""
    rel.apply(version(sample(), "v2", hold_seconds=5))
    wait_for("v2 released", lambda: rel.revision() != v1, timeout=30)
    v2 = rel.revision()
    status = rel.wait_phase("Complete", timeout=240)
    assert status["active"]["revision"] == v2
    errors = check_line(status, "error-rate", v2)
    assert errors["phase"] == "Passed", errors
    # v3 is compared with v2 over the window before its switch: v2 must have served
    # a whole window, and Prometheus must have its numbers.
    serving_since = time.monotonic()
    metric = sample()["spec"]["hold"]["checks"][0]["metric"]
    baseline = metric["query"].replace("{{namespace}}", ns).replace("{{revision}}", v2)
    baseline = baseline.replace("{{window}}", f"{window}s")
    wait_for(
        f"v2 serving for {window}s, its error rate known to Prometheus",
        lambda: time.monotonic() - serving_since >= window and query(prometheus_url, baseline),
        timeout=window + 60,
    )
    return v2


def test_bad_v3_is_rolled_back_by_its_error_rate_within_the_window(
    setting: tuple[Kubectl, str, Operator], prometheus_url: str
) -> None:
    k, ns, operator = setting
    body = sample()
    rel = Release(k, ns, body["metadata"]["name"])
    error_rate = body["spec"]["hold"]["checks"][0]
    assert error_rate["name"] == "error-rate"
    window = int(error_rate["metric"]["windowSeconds"])
    v1 = release_v1(k, ns, rel, prometheus_url)
    cluster_ip = str(k.json("get", "svc", rel.name, "-n", ns)["spec"]["clusterIP"])
    wait_for("v1 through the stable Service", lambda: get(cluster_ip, 80).ok, timeout=30)
    with (
        SelectorWatch(k, ns, rel.name) as selectors,
        LoadGenerator(cluster_ip, 80, workers=4, max_seconds=600, pause=0.01) as load,
    ):
        wait_for("the selector watch", lambda: selectors.changes, timeout=30)
        wait_for("load on v1", lambda: load.count() >= 300, timeout=30)
        v2 = release_v2(rel, ns, v1, prometheus_url, window)
        t3 = time.monotonic()
        rel.apply(body)
        rolled = rel.wait_phase("RolledBack", timeout=240)
        wait_for("v2 serving again", lambda: rel.status()["active"]["revision"] == v2, timeout=30)
        mark = load.count()
        wait_for("traffic after the rollback", lambda: load.count() >= mark + 300, timeout=60)
        samples = load.stop()

    v3 = rolled["revision"]
    changes = selectors.since(t3)
    assert [c[1].get("bluegreen.dev/revision") for c in changes] == [v3, v2], changes
    to_v3, back_to_v2 = changes[0][0], changes[1][0]
    took = back_to_v2 - to_v3
    during = [s for s in samples if to_v3 - 1 <= s.start <= back_to_v2 + 2]
    failed = [s for s in during if not s.ok]
    answered_500 = sum(1 for s in failed if s.status == 500)
    after = [s for s in samples if s.start > back_to_v2 + 2]
    errors = check_line(rolled, "error-rate", v3)
    others = [f"{s.start - to_v3:+.2f}s {s.error or s.status}" for s in failed if s.status != 500]
    print(
        f"[kpi] bad v3 (APP_ERROR_RATE=0.2): switch to rollback {took:.1f}s; "
        f"requests sent {len(during)}, failed {len(failed)} ({answered_500} answered 500); "
        f"check: {errors['message']}; other failures (from the switch): {others[:10]}"
    )
    assert rolled["active"]["revision"] == v2
    assert (errors["phase"], errors["verdict"], errors["failures"]) == ("Failed", "Fail", 2)
    assert 0.1 <= float(errors["value"]) <= 0.3, errors
    assert float(errors["baseline"]) <= 0.01, errors
    assert "hold check error-rate failed" in rolled["message"]
    assert took < window, f"rolled back {took:.1f}s after the switch, past the {window}s window"
    # v3's own 500s, and nothing else: the switches themselves lose no request.
    assert failed and not others, others[:10]
    assert all(s.ok for s in after), [s for s in after if not s.ok][:5]
    assert 'bluegreen_rollbacks_total{namespace="' in operator.metrics()
