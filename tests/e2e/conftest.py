"""Fixtures for end-to-end tests on the real node (kubelet, containerd, runc,
CNI, kube-proxy) joined to the local control plane.

``real_node`` uses the node when it is already up and Ready. Otherwise, with
``BLUEGREEN_REAL_NODE=1``, it starts it with ``hack/node/node-up.sh`` (root
needed) and stops it afterwards with ``hack/node/node-down.sh``; without that
variable the tests are skipped, saying how to run them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HACK, Cluster
from tests.integration.harness import REPO, Kubectl, Operator, delete_namespace

NODE_NAME = os.environ.get("BLUEGREEN_REAL_NODE_NAME", "bluegreen-node-0")
NODE_LABEL = "bluegreen.dev/real-node"
NODE_START_TIMEOUT_S = 600  # the first start builds the app image (debootstrap)

# What every pod meant for the real node carries: the node is tainted so that
# KWOK-based tests never land on it by accident.
PLACEMENT: dict[str, Any] = {
    "nodeSelector": {NODE_LABEL: "true"},
    "tolerations": [{"key": NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
    # The local cluster runs no DNS; the app needs none, and ClusterFirst would
    # only add a MissingClusterDNS warning event per pod.
    "dnsPolicy": "Default",
}


@dataclasses.dataclass(frozen=True)
class RealNode:
    name: str
    started_here: bool
    startup_seconds: float | None


def _node_ready(cluster: Cluster) -> bool:
    proc = subprocess.run(
        ["kubectl", "get", "node", NODE_NAME, "-o", "json", "--request-timeout=5s"],
        env=cluster.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return False
    conditions = json.loads(proc.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _node_env(cluster: Cluster) -> dict[str, str]:
    env = dict(cluster.env)
    env.setdefault("BLUEGREEN_KUBECONFIG", str(cluster.kubeconfig))
    return env


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "real_node" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.node)


@pytest.fixture(scope="session")
def real_node(cluster: Cluster) -> Iterator[RealNode]:
    if _node_ready(cluster):
        yield RealNode(NODE_NAME, started_here=False, startup_seconds=None)
        return
    if os.environ.get("BLUEGREEN_REAL_NODE") != "1":
        pytest.skip(
            f"real node {NODE_NAME} is not up: run `sudo hack/node/node-up.sh` against this "
            "cluster, or set BLUEGREEN_REAL_NODE=1 to let the tests start it (needs root)"
        )
    if os.geteuid() != 0:
        pytest.skip("BLUEGREEN_REAL_NODE=1 but not root: the node needs root to start")
    env = _node_env(cluster)
    started = time.monotonic()
    up = subprocess.run(
        [str(HACK / "node" / "node-up.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_START_TIMEOUT_S,
        check=False,
    )
    if up.returncode != 0:
        subprocess.run(
            [str(HACK / "node" / "node-down.sh")],
            env=env | {"BLUEGREEN_NODE_KEEP_LOGS": "1"},
            capture_output=True,
            check=False,
        )
        pytest.fail(f"hack/node/node-up.sh failed ({up.returncode}):\n{up.stderr[-4000:]}")
    took = time.monotonic() - started
    try:
        yield RealNode(NODE_NAME, started_here=True, startup_seconds=took)
    finally:
        if os.environ.get("BLUEGREEN_KEEP_CLUSTER") != "1":
            subprocess.run(
                [str(HACK / "node" / "node-down.sh")], env=env, capture_output=True, check=False
            )


@contextlib.contextmanager
def watched_namespace(
    cluster: Cluster, prefix: str, log: Path, *extra: str
) -> Iterator[tuple[Kubectl, str, Operator]]:
    """The CRD installed, a new namespace ``<prefix>-<random>``, and an operator process
    for it (``--infrastructure kubernetes``, plus ``extra``), for the caller to start.
    Afterwards the operator is killed, its log's tail printed, the namespace deleted."""
    k = Kubectl(cluster.env)
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    k.run(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/bluegreenreleases.bluegreen.dev",
    )
    namespace = f"{prefix}-{uuid.uuid4().hex[:8]}"
    k.run("create", "namespace", namespace)
    operator = Operator(
        cluster.env,
        namespace,
        log,
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        *extra,
    )
    try:
        yield k, namespace, operator
    finally:
        operator.kill()
        tail = operator.log.read_text()[-2500:] if operator.log.exists() else ""
        print(f"operator log tail:\n{tail}")
        delete_namespace(k, namespace)


@pytest.fixture
def kube_json(cluster: Cluster) -> Callable[..., Any]:
    """``kube_json(*args)``: kubectl ... -o json, parsed; None when not found."""

    def run(*args: str) -> Any:
        proc = subprocess.run(
            ["kubectl", *args, "-o", "json"],
            env=cluster.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if proc.returncode != 0:
            if "NotFound" in proc.stderr:
                return None
            raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return json.loads(proc.stdout)

    return run


@pytest.fixture
def apply(cluster: Cluster) -> Callable[[list[dict[str, Any]]], None]:
    """``apply([obj, ...])``: server-side apply of manifests given as dicts."""

    def run(objects: list[dict[str, Any]]) -> None:
        doc = {"apiVersion": "v1", "kind": "List", "items": objects}
        subprocess.run(
            ["kubectl", "apply", "--server-side", "--field-manager=e2e", "-f", "-"],
            env=cluster.env,
            input=json.dumps(doc),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )

    return run


def app_pod_template(version: str, labels: dict[str, str]) -> dict[str, Any]:
    """The demo app as a pod template for the real node (image built locally)."""
    return {
        "metadata": {"labels": labels},
        "spec": {
            **PLACEMENT,
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "app",
                    "image": f"spacelift-app:{version}",
                    "imagePullPolicy": "Never",
                    "ports": [{"containerPort": 5000}],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": 5000},
                        "periodSeconds": 1,
                        "failureThreshold": 2,
                    },
                }
            ],
        },
    }
