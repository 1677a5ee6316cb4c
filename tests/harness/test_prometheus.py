"""hack/prometheus-up.sh and -down.sh: the local cluster's Prometheus.

Run against a Prometheus of the test's own (a state folder holding a copy of
the cluster's kubeconfig, a free port), so a Prometheus the session or a human
started is never touched. It must find pods through Kubernetes service
discovery with that kubeconfig, keep only those annotated for scraping, label
them with their namespace, pod, release and revision, pick up operators listed
in operators/*.json, reload on a second run, and stop only what it started.

KWOK pods have IPs nothing answers on: their targets are found and labelled,
and down; scraping real pods is the real-node test's part
(tests/e2e/test_kpi_rollback.py).

Needs the server built from Prometheus' Go module (hack/build-prometheus.sh):
with BLUEGREEN_PROMETHEUS=1 (CI) the test builds it if need be; without, it
runs when the build is cached and is skipped otherwise, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from tests.conftest import HACK, Cluster
from tests.integration.harness import free_port, wait_for

pytestmark = pytest.mark.cluster

BUILD_TIMEOUT_S = 1200


def built_prometheus() -> str | None:
    """The cached server, or None; builds it when BLUEGREEN_PROMETHEUS=1 asks for it."""
    cached = subprocess.run(
        [
            "bash",
            "-c",
            'd="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen-operator}"; '
            'ls "$d"/prometheus/*/bin/prometheus 2>/dev/null | tail -1',
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if cached or os.environ.get("BLUEGREEN_PROMETHEUS") != "1":
        return cached or None
    build = subprocess.run(
        [str(HACK / "build-prometheus.sh")],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"hack/build-prometheus.sh failed:\n{build.stderr[-3000:]}")
    return build.stdout.strip()


@pytest.fixture
def own_prometheus(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    binary = built_prometheus()
    if binary is None:
        pytest.skip("Prometheus is not built: hack/build-prometheus.sh (or BLUEGREEN_PROMETHEUS=1)")
    state = tmp_path / "cluster"
    state.mkdir()
    shutil.copy(cluster.kubeconfig, state / "kubeconfig")
    port = free_port()
    env = cluster.env | {
        "BLUEGREEN_CLUSTER_DIR": str(state),
        "BLUEGREEN_PROMETHEUS_PORT": str(port),
        "BLUEGREEN_PROMETHEUS_BIN": binary,
    }
    try:
        yield env, f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([str(HACK / "prometheus-down.sh")], env=env, check=False)


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(HACK / script)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def targets(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/v1/targets?state=any", timeout=5) as answer:
        return dict(json.loads(answer.read())["data"])


def pod(name: str, annotated: bool, revision: str) -> client.V1Pod:
    annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": "5000"}
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={"bluegreen.dev/release": "shop", "bluegreen.dev/revision": revision},
            annotations=annotations if annotated else {},
        ),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="app", image="registry.invalid/app:v1")]
        ),
    )


def test_pods_are_found_through_kubernetes_discovery_and_operators_through_files(
    own_prometheus: tuple[dict[str, str], str],
    api_client: Any,
    namespace: str,
    wait_until: Callable[..., Any],
) -> None:
    env, url = own_prometheus
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod("scraped", True, "aaaaaaaaaa"))
    core.create_namespaced_pod(namespace, pod("ignored", False, "aaaaaaaaaa"))
    wait_until(
        "both pods Running with an IP",
        lambda: all(
            (p := core.read_namespaced_pod(n, namespace)).status.phase == "Running"
            and p.status.pod_ip
            for n in ("scraped", "ignored")
        ),
    )
    started = run("prometheus-up.sh", env)
    assert "ready: " + url in started.stderr
    state = Path(env["BLUEGREEN_CLUSTER_DIR"])
    assert (state / "prometheus" / "env").read_text() == f"BLUEGREEN_PROMETHEUS_URL={url}\n"

    def ours() -> list[dict[str, Any]]:
        return [
            t for t in targets(url)["activeTargets"] if t["labels"].get("namespace") == namespace
        ]

    found = wait_for("the annotated pod as a target", ours, timeout=60)
    ip = core.read_namespaced_pod("scraped", namespace).status.pod_ip
    assert [(t["labels"]["pod"], t["scrapeUrl"]) for t in found] == [
        ("scraped", f"http://{ip}:5000/metrics")
    ]
    assert found[0]["labels"]["release"] == "shop"
    assert found[0]["labels"]["revision"] == "aaaaaaaaaa"
    assert found[0]["labels"]["job"] == "pods"

    # An operator registered by file is scraped without a restart; a second run
    # reloads the configuration instead of starting a second server.
    metrics_port = free_port()
    (state / "prometheus" / "operators" / "test.json").write_text(
        json.dumps([{"targets": [f"127.0.0.1:{metrics_port}"]}]), encoding="utf-8"
    )
    wait_for(
        "the registered operator as a target",
        lambda: any(
            t["labels"].get("instance") == f"127.0.0.1:{metrics_port}"
            for t in targets(url)["activeTargets"]
        ),
        timeout=30,
    )
    pid = (state / "pids" / "prometheus.pid").read_text()
    again = run("prometheus-up.sh", env)
    assert "already running; reloading" in again.stderr
    assert (state / "pids" / "prometheus.pid").read_text() == pid

    stopped = run("prometheus-down.sh", env)
    assert f"stopped (pid {pid.strip()})" in stopped.stderr
    assert not Path(f"/proc/{pid.strip()}").exists()
    with pytest.raises(OSError):
        targets(url)
