"""Fixtures for operator integration tests on the real local cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cluster
from tests.integration.harness import REPO, Kubectl, Operator, delete_namespace, wait_for


@pytest.fixture(scope="session")
def k(cluster: Cluster) -> Kubectl:
    kubectl = Kubectl(cluster.env)
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kubectl.run(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/bluegreenreleases.bluegreen.dev",
    )
    return kubectl


@pytest.fixture
def namespace(k: Kubectl) -> Iterator[str]:
    name = f"it-{uuid.uuid4().hex[:8]}"
    k.run("create", "namespace", name)
    yield name
    delete_namespace(k, name)  # the operator fixtures that use it have stopped


@pytest.fixture
def operator(cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    """The operator as a real process, creating Services through plain API calls."""
    process = started_operator(cluster, namespace, tmp_path / "operator.log")
    yield process
    process.kill()
    print(f"operator log: {process.log}")
    print(process.log.read_text()[-3000:])


def started_operator(cluster: Cluster, namespace: str, log: Path, *extra: str) -> Operator:
    """The operator with Services through plain API calls, ``extra`` flags, serving."""
    process = Operator(
        cluster.env,
        namespace,
        log,
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        *extra,
    )
    process.start()
    wait_for("operator metrics endpoint", lambda: _up(process), timeout=30)
    return process


def _up(process: Operator) -> bool:
    try:
        return "bluegreen_" in process.metrics()
    except OSError:
        return False
