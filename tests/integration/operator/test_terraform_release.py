"""Releases whose Services come from the bundled Terraform module: real Terraform,
the real hashicorp/kubernetes provider from the filesystem mirror, state in the cluster."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bluegreen.core import names
from tests.conftest import Cluster
from tests.integration.conftest import _up
from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "tfshop"
STATE_NAMESPACE = "bluegreen-system"


@pytest.fixture
def tf_operator(cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    k.run("create", "namespace", STATE_NAMESPACE, check=False)
    process = Operator(
        cluster.env,
        namespace,
        tmp_path / "operator.log",
        "--infrastructure",
        "terraform",
        "--drift-interval",
        "2",
        "--terraform-timeout",
        "60",
    )
    process.start()
    wait_for("operator metrics endpoint", lambda: _up(process), timeout=30)
    yield process
    process.kill()
    print(process.log.read_text()[-3000:])


def _runs(operator: Operator, operation: str) -> float:
    return _count(operator.metrics(), RUNS, operation)


def _count(metrics: str, series: str, operation: str, result: str | None = None) -> float:
    """What ``series`` counts for ``operation`` (of one ``result`` if given) in a scrape."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == series
        and sample.labels["operation"] == operation
        and result in (None, sample.labels["result"])
    )


RUNS = "bluegreen_terraform_runs_total"
TIMED = "bluegreen_terraform_run_duration_seconds_count"


def _state_secret(k: Kubectl, namespace: str) -> dict[str, Any] | None:
    secret: dict[str, Any] | None = k.json(
        "get",
        "secret",
        f"tfstate-default-{names.state_key(namespace, NAME)}",
        "-n",
        STATE_NAMESPACE,
    )
    return secret


def _state_resources(secret: dict[str, Any]) -> list[Any]:
    raw = gzip.decompress(base64.b64decode(secret["data"]["tfstate"]))
    return list(json.loads(raw).get("resources") or [])


def _kill_processes_under(folder: Path) -> None:
    """SIGKILL every process whose working directory lies under ``folder``."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = (proc / "cwd").resolve()
        except OSError:
            continue
        if str(cwd).startswith(str(folder)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


def _v1(k: Kubectl, namespace: str, apps: dict[str, App], **kw: Any) -> tuple[Release, str]:
    rel = Release(k, namespace, NAME)
    body = release(NAME, "v1", apps["v1"].url, "V1", **kw)
    rel.apply(body)
    rel.wait_condition("Ready", timeout=120)
    return rel, rel.revision()


def test_services_come_from_terraform_and_image_releases_run_it_zero_times(
    k: Kubectl, namespace: str, tf_operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1(k, namespace, apps)
    assert _state_secret(k, namespace), "Terraform state Secret in the cluster"
    svc = k.json("get", "svc", NAME, "-n", namespace)
    assert svc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "bluegreen-operator"
    assert rel.condition("InfrastructureReady")["status"] == "True"
    assert rel.status()["infrastructure"]["outputs"]["stableService"] == NAME
    applies = _runs(tf_operator, "apply")
    assert applies == 1
    scraped = tf_operator.metrics()
    assert _count(scraped, RUNS, "apply", "succeeded") == 1
    assert _count(scraped, TIMED, "apply", "succeeded") == 1

    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=1))
    wait_for(
        "v2 complete",
        lambda: (
            rel.status().get("active", {}).get("revision") != v1
            and rel.condition("Ready").get("status") == "True"
        ),
        timeout=60,
    )
    assert _runs(tf_operator, "apply") == applies, "an image-only release runs no apply"


def test_reapply_keeps_the_selector_and_changes_the_port(
    k: Kubectl, namespace: str, tf_operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1(k, namespace, apps)
    selector = rel.selector()
    assert selector["bluegreen.dev/revision"] == v1
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", service_port=8080))
    wait_for(
        "port 8080",
        lambda: k.json("get", "svc", NAME, "-n", namespace)["spec"]["ports"][0]["port"] == 8080,
        timeout=90,
    )
    rel.wait_condition("Ready", timeout=60)
    assert _runs(tf_operator, "apply") == 2
    assert rel.selector() == selector, "Terraform ignores the selector the operator set"


def test_drift_is_reported_not_reverted(
    k: Kubectl, namespace: str, tf_operator: Operator, apps: dict[str, App]
) -> None:
    rel, _ = _v1(k, namespace, apps)
    k.run(
        "patch",
        "svc",
        NAME,
        "-n",
        namespace,
        "--type",
        "merge",
        "-p",
        '{"spec":{"type":"NodePort"}}',
    )
    drifted = rel.wait_condition("InfrastructureDrifted", timeout=60)
    assert NAME in drifted["message"] or "stable" in drifted["message"]
    assert "InfrastructureDrifted" in rel.events()
    assert k.json("get", "svc", NAME, "-n", namespace)["spec"]["type"] == "NodePort"
    assert rel.status()["infrastructure"]["drift"] is True


def test_failing_apply_leaves_v1_serving(
    k: Kubectl, namespace: str, tf_operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1(k, namespace, apps)
    bad = release(NAME, "v2", apps["v2"].url, "V2")
    bad["spec"]["infrastructure"] = {"terraform": {"variables": {"bogus_setting": "x"}}}
    rel.apply(bad)
    stalled = rel.wait_condition("Stalled", timeout=90)
    assert stalled["reason"] == "InfrastructureFailed"
    assert "bogus_setting" in stalled["message"]
    assert rel.selector()["bluegreen.dev/revision"] == v1
    assert set(rel.deployments()) == {v1}, "no candidate before the infrastructure is right"
    assert rel.condition("Serving")["status"] == "True"
    assert "TerraformFailed" in rel.events()
    scraped = tf_operator.metrics()
    failed = _count(scraped, RUNS, "apply", "failed")
    assert failed >= 1
    assert _count(scraped, TIMED, "apply", "failed") == failed


def test_operator_killed_during_apply_recovers_the_lock(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path, apps: dict[str, App]
) -> None:
    k.run("create", "namespace", STATE_NAMESPACE, check=False)
    args = ("--infrastructure", "terraform", "--drift-interval", "0", "--terraform-timeout", "5")
    first = Operator(cluster.env, namespace, tmp_path / "first.log", *args)
    first.start()
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1"))
    lease = f"lock-tfstate-default-{names.state_key(namespace, NAME)}"
    wait_for(
        "Terraform holding the state lock",
        lambda: k.json("get", "lease", lease, "-n", STATE_NAMESPACE),
        timeout=60,
        interval=0.05,
    )
    first.kill(signal.SIGKILL)
    # Terraform runs in its own process group and would finish and unlock by itself;
    # kill it too, as a node crash would, so the lock really is left behind.
    _kill_processes_under(tmp_path)
    assert k.json("get", "lease", lease, "-n", STATE_NAMESPACE), "a stale lock is left"
    second = Operator(cluster.env, namespace, tmp_path / "second.log", *args)
    second.start()
    try:
        rel.wait_condition("Ready", timeout=120)
    finally:
        second.kill()
    assert _state_secret(k, namespace)
    assert rel.selector()["bluegreen.dev/revision"] == rel.revision()


@pytest.mark.parametrize("policy", ["Delete", "Retain"])
def test_deletion_policy(
    k: Kubectl, namespace: str, tf_operator: Operator, apps: dict[str, App], policy: str
) -> None:
    rel = Release(k, namespace, NAME)
    body = release(NAME, "v1", apps["v1"].url, "V1")
    body["spec"]["infrastructure"] = {"deletionPolicy": policy}
    rel.apply(body)
    rel.wait_condition("Ready", timeout=120)
    k.run("delete", f"bgr/{NAME}", "-n", namespace, "--timeout=120s")
    wait_for("deployments gone", lambda: not rel.deployments())
    service = k.json("get", "svc", NAME, "-n", namespace)
    if policy == "Delete":
        wait_for("services destroyed", lambda: not k.json("get", "svc", NAME, "-n", namespace))
        secret = _state_secret(k, namespace)
        assert secret is None or _state_resources(secret) == []
    else:
        assert service and service["metadata"]["name"] == NAME
