"""Deleting a release always finishes, whatever state it is in, and leaves nothing of ours.

The operator runs as a real process against the local cluster; Terraform cases
run the bundled module with state in the cluster. Each case deletes the release
and waits, with a deadline, for the CR to be gone; then no Deployment, Job or
Service of the release may remain (except Services under ``Retain``).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.integration.conftest import _up
from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "gone"
STATE_NAMESPACE = "bluegreen-system"
DELETE_TIMEOUT = 90
"""Plain Kubernetes infrastructure: a few API calls."""
FALLBACK_TIMEOUT = 240
"""Terraform: three failing destroys ten seconds apart, then the direct fallback."""


@pytest.fixture
def terraform_operator(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path
) -> Iterator[Operator]:
    k.run("create", "namespace", STATE_NAMESPACE, check=False)
    process = Operator(
        cluster.env,
        namespace,
        tmp_path / "operator.log",
        "--infrastructure",
        "terraform",
        "--drift-interval",
        "0",
        "--terraform-timeout",
        "60",
    )
    process.start()
    wait_for("operator metrics endpoint", lambda: _up(process), timeout=30)
    yield process
    process.kill()
    print(process.log.read_text()[-4000:])


def ours(k: Kubectl, namespace: str, kind: str) -> list[str]:
    listed = k.json("get", kind, "-n", namespace, "-l", f"bluegreen.dev/release={NAME}") or {}
    return sorted(item["metadata"]["name"] for item in listed.get("items", []))


def leftovers(k: Kubectl, namespace: str) -> dict[str, list[str]]:
    return {kind: ours(k, namespace, kind) for kind in ("deployments", "jobs", "services")}


def ready_release(k: Kubectl, namespace: str, apps: dict[str, App], **spec: Any) -> Release:
    rel = Release(k, namespace, NAME)
    body = release(NAME, "v1", apps["v1"].url, "V1")
    body["spec"].update(spec)
    rel.apply(body)
    rel.wait_condition("Ready", timeout=120)
    assert ours(k, namespace, "services") == [NAME, f"{NAME}-preview"]
    assert ours(k, namespace, "deployments")
    return rel


def delete_and_wait_gone(k: Kubectl, rel: Release, timeout: float = DELETE_TIMEOUT) -> None:
    k.run("delete", "bgr", NAME, "-n", rel.ns, "--wait=false")
    wait_for("the release finalized and gone", lambda: not rel.get(), timeout=timeout)


def state_secrets(k: Kubectl, namespace: str) -> list[dict[str, Any]]:
    """Terraform state Secrets of releases in ``namespace`` (their key includes it)."""
    listed = k.json("get", "secrets", "-n", STATE_NAMESPACE, "-l", "tfstate=true") or {}
    return [s for s in listed.get("items", []) if namespace in s["metadata"]["name"]]


def state_resources(secret: dict[str, Any]) -> list[Any]:
    raw = gzip.decompress(base64.b64decode(secret["data"]["tfstate"]))
    return list(json.loads(raw).get("resources") or [])


def look_alike_deployment(namespace: str) -> dict[str, Any]:
    """Carries our labels, but no ownerReference to the release: never ours to delete."""
    labels = {"app.kubernetes.io/managed-by": "bluegreen-operator", "bluegreen.dev/release": NAME}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{NAME}-impostor", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"impostor": "yes"}},
            "template": {
                "metadata": {"labels": {"impostor": "yes"}},
                "spec": {"containers": [{"name": "c", "image": "impostor:1"}]},
            },
        },
    }


# ------------------------------------------------------------------ plain Kubernetes


def test_stalled_release_with_invalid_spec_is_deleted_with_its_services(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = ready_release(k, namespace, apps)
    body = release(NAME, "v1", apps["v1"].url, "V1")
    # Accepted by the API server (a CRD cannot compile RE2), refused by the operator.
    body["spec"]["checks"]["smoke"][0]["http"]["expectBodyRegex"] = "(unclosed"
    rel.apply(body)
    stalled = rel.wait_condition("Stalled", timeout=60)
    assert stalled["reason"] == "InvalidCheck"
    delete_and_wait_gone(k, rel)
    assert leftovers(k, namespace) == {"deployments": [], "jobs": [], "services": []}


def test_retain_keeps_the_services_and_still_lets_go(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = ready_release(k, namespace, apps, infrastructure={"deletionPolicy": "Retain"})
    delete_and_wait_gone(k, rel)
    assert leftovers(k, namespace) == {
        "deployments": [],
        "jobs": [],
        "services": [NAME, f"{NAME}-preview"],
    }


def test_deleted_while_the_operator_is_down_finishes_after_restart(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = ready_release(k, namespace, apps)
    operator.kill()
    k.apply(look_alike_deployment(namespace))
    k.run("delete", "bgr", NAME, "-n", namespace, "--wait=false")
    held = rel.get()
    assert held.get("metadata", {}).get("deletionTimestamp"), "the finalizer holds it"
    assert "bluegreen.dev/finalizer" in held["metadata"].get("finalizers", [])
    operator.start()
    wait_for("the release finalized and gone", lambda: not rel.get(), timeout=DELETE_TIMEOUT)
    assert leftovers(k, namespace) == {
        "deployments": [f"{NAME}-impostor"],
        "jobs": [],
        "services": [],
    }


def test_release_in_a_namespace_being_deleted_lets_the_namespace_go(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    ready_release(k, namespace, apps)
    k.run("delete", "namespace", namespace, "--wait=false")
    wait_for(
        "the namespace gone (its release finalized first)",
        lambda: not k.json("get", "namespace", namespace),
        timeout=DELETE_TIMEOUT,
    )


# ------------------------------------------------------------------ Terraform


def test_terraform_state_deleted_by_hand(
    k: Kubectl, namespace: str, terraform_operator: Operator, apps: dict[str, App]
) -> None:
    rel = ready_release(k, namespace, apps)
    secrets = state_secrets(k, namespace)
    assert len(secrets) == 1, [s["metadata"]["name"] for s in secrets]
    k.run("delete", "secret", secrets[0]["metadata"]["name"], "-n", STATE_NAMESPACE)
    delete_and_wait_gone(k, rel, timeout=FALLBACK_TIMEOUT)
    assert leftovers(k, namespace) == {"deployments": [], "jobs": [], "services": []}


def test_failed_infrastructure_falls_back_to_deleting_our_services(
    k: Kubectl, namespace: str, terraform_operator: Operator, apps: dict[str, App]
) -> None:
    rel = ready_release(k, namespace, apps)
    (secret,) = state_secrets(k, namespace)
    name = secret["metadata"]["name"]
    # A state no Terraform run can read: the next apply fails, and so does every destroy.
    garbage = base64.b64encode(b"not a gzipped state").decode()
    patch = json.dumps({"data": {"tfstate": garbage}})
    k.run("patch", "secret", name, "-n", STATE_NAMESPACE, "--type=merge", "-p", patch)
    try:
        moved = release(NAME, "v1", apps["v1"].url, "V1", service_port=8080)
        rel.apply(moved)  # new inputs: an apply is due, and fails
        assert rel.wait_condition("Stalled", timeout=120)["reason"] == "InfrastructureFailed"
        delete_and_wait_gone(k, rel, timeout=FALLBACK_TIMEOUT)
        assert leftovers(k, namespace) == {"deployments": [], "jobs": [], "services": []}
        events = k.json(
            "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={NAME}"
        )
        warnings = [e["message"] for e in events["items"] if e["reason"] == "CleanupIncomplete"]
        assert len(warnings) == 1, "the fallback is reported once"
        assert "destroy failed" in warnings[0]
        assert f"{NAME}-preview" in warnings[0], "it names the Services it deleted directly"
    finally:
        # The unreadable state stays where Terraform keeps it; remove it by hand here.
        k.run("delete", "secret", name, "-n", STATE_NAMESPACE, "--ignore-not-found")


def test_terraform_release_with_invalid_spec_is_destroyed_from_status(
    k: Kubectl, namespace: str, terraform_operator: Operator, apps: dict[str, App]
) -> None:
    rel = ready_release(k, namespace, apps)
    body = release(NAME, "v1", apps["v1"].url, "V1")
    body["spec"]["checks"]["smoke"][0]["http"]["expectBodyRegex"] = "(unclosed"
    rel.apply(body)
    assert rel.wait_condition("Stalled", timeout=60)["reason"] == "InvalidCheck"
    delete_and_wait_gone(k, rel, timeout=FALLBACK_TIMEOUT)
    assert leftovers(k, namespace) == {"deployments": [], "jobs": [], "services": []}
    assert all(not state_resources(secret) for secret in state_secrets(k, namespace))
    events = k.json(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={NAME}"
    )
    assert not [e for e in events["items"] if e["reason"] == "CleanupIncomplete"], (
        "Terraform destroyed it: no fallback needed"
    )


def cleanup_retries(rel: Release) -> int:
    """How many times kopf has retried the deletion handler (kept in an annotation)."""
    annotations = rel.get().get("metadata", {}).get("annotations") or {}
    progress = annotations.get("bluegreen.dev/release_deleted")
    return int(json.loads(progress).get("retries") or 0) if progress else 0


def test_operator_restarted_while_a_failing_destroy_is_retried(
    k: Kubectl, namespace: str, terraform_operator: Operator, apps: dict[str, App]
) -> None:
    rel = ready_release(k, namespace, apps)
    (secret,) = state_secrets(k, namespace)
    name = secret["metadata"]["name"]
    garbage = base64.b64encode(b"not a gzipped state").decode()
    patch = json.dumps({"data": {"tfstate": garbage}})
    k.run("patch", "secret", name, "-n", STATE_NAMESPACE, "--type=merge", "-p", patch)
    try:
        k.run("delete", "bgr", NAME, "-n", namespace, "--wait=false")
        wait_for("a failed destroy, to be retried", lambda: cleanup_retries(rel) >= 1, timeout=90)
        terraform_operator.kill()
        terraform_operator.start()
        # The retry count survives the restart: the bound holds, and the fallback ends it.
        wait_for("the release finalized and gone", lambda: not rel.get(), timeout=FALLBACK_TIMEOUT)
        assert leftovers(k, namespace) == {"deployments": [], "jobs": [], "services": []}
    finally:
        k.run("delete", "secret", name, "-n", STATE_NAMESPACE, "--ignore-not-found")


def test_terraform_release_in_a_namespace_being_deleted(
    k: Kubectl, namespace: str, terraform_operator: Operator, apps: dict[str, App]
) -> None:
    ready_release(k, namespace, apps)
    k.run("delete", "namespace", namespace, "--wait=false")
    wait_for(
        "the namespace gone (its release finalized first)",
        lambda: not k.json("get", "namespace", namespace),
        timeout=FALLBACK_TIMEOUT,
    )
    assert all(not state_resources(secret) for secret in state_secrets(k, namespace))
