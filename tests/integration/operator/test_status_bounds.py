"""A status write the API server refuses stops the release instead of making it churn.

The refusal is real: a ValidatingAdmissionPolicy, bound to this test's
namespaces only, denies (as 413 Request Entity Too Large) any status update of
a release carrying a marker label once that status records a candidate. Without
a hold, the operator would create the candidate, fail to record it, find an
unaccounted Deployment, delete it, and start again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "refused"
MARKER = "bluegreen-test/refuse-status"
OBSERVE_SECONDS = 20
"""Long enough for dozens of reconcile steps (each takes well under a second here)."""


def policy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["bluegreen.dev"],
                        "apiVersions": ["v1alpha1"],
                        "operations": ["UPDATE"],
                        "resources": ["bluegreenreleases/status"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": (
                        f"!has(object.metadata.labels) || !('{MARKER}' in object.metadata.labels)"
                        " || !has(object.status) || !has(object.status.preview)"
                    ),
                    "message": "status too large for this test",
                    "reason": "RequestEntityTooLarge",
                }
            ],
        },
    }


def binding(name: str, namespaces: list[str]) -> dict[str, Any]:
    selector = {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchExpressions": [selector]}},
        },
    }


def marked(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "metadata": {**body["metadata"], "labels": {MARKER: "yes"}}}


@pytest.fixture
def refusing_policy(
    k: Kubectl, namespace: str, apps: dict[str, App]
) -> Iterator[Callable[[], None]]:
    """The policy, proven in force on a probe release no operator watches.

    Yields ``lift``, which removes the policy and waits until it no longer applies.
    """
    name = f"bgr-refuse-status-{uuid.uuid4().hex[:8]}"
    probe_ns = f"{namespace}-probe"
    k.run("create", "namespace", probe_ns)
    k.apply(policy(name))
    k.apply(binding(name, [namespace, probe_ns]))
    try:
        probe = marked(release("probe", "v1", apps["v1"].url, "V1"))
        k.apply({**probe, "metadata": {**probe["metadata"], "namespace": probe_ns}})
        preview = {
            "revision": "0123456789",
            "deployment": "probe-0123456789",
            "image": "spacelift-app:v1",
            "replicas": 1,
            "deadline": "2026-01-01T00:00:00Z",
            "startedAt": "2026-01-01T00:00:00Z",
        }
        patch = json.dumps({"status": {"preview": preview}})

        def refused() -> bool:
            out = k.run(
                "patch", "bgr", "probe", "-n", probe_ns, "--subresource=status",
                "--type=merge", "-p", patch, "--dry-run=server", check=False,
            )  # fmt: skip
            return "status too large for this test" in out

        wait_for("the admission policy in force", refused, timeout=30, interval=0.5)

        def lift() -> None:
            k.run("delete", "validatingadmissionpolicybinding", name)
            wait_for("the policy lifted", lambda: not refused(), timeout=30, interval=0.5)

        yield lift
    finally:
        k.run("delete", "validatingadmissionpolicybinding", name, "--ignore-not-found")
        k.run("delete", "validatingadmissionpolicy", name, "--ignore-not-found")
        k.run("delete", "namespace", probe_ns, "--wait=false", check=False)


@pytest.fixture
def gone_at_end(k: Kubectl, namespace: str, operator: Operator) -> Iterator[None]:
    """Deletes the release while the operator still runs, so its namespace can go."""
    yield
    k.run("delete", "bgr", NAME, "-n", namespace, "--ignore-not-found", "--wait=false")
    wait_for("the release deleted", lambda: not Release(k, namespace, NAME).get(), timeout=60)


def deployment_uids(k: Kubectl, namespace: str) -> set[str]:
    listed = k.json("get", "deploy", "-n", namespace, "-l", f"bluegreen.dev/release={NAME}") or {}
    return {d["metadata"]["uid"] for d in listed.get("items", [])}


def event_count(k: Kubectl, namespace: str, reason: str) -> int:
    events = k.json(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={NAME}"
    ) or {"items": []}
    return sum(int(e.get("count") or 1) for e in events["items"] if e["reason"] == reason)


def test_refused_status_write_stalls_without_churn_until_the_spec_changes(
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    refusing_policy: Callable[[], None],
    gone_at_end: None,
) -> None:
    rel = Release(k, namespace, NAME)
    rel.apply(marked(release(NAME, "v1", apps["v1"].url, "V1")))
    stalled = rel.wait_condition("Stalled", timeout=60)
    assert stalled["reason"] == "StatusRejected"
    assert "413" in stalled["message"] or "too large" in stalled["message"]
    assert rel.condition("Ready")["status"] == "False"
    assert "preview" not in rel.status(), "the refused status was never stored"

    seen: set[str] = set()
    deadline = time.monotonic() + OBSERVE_SECONDS
    while time.monotonic() < deadline:  # a fixed observation window, not a wait
        seen |= deployment_uids(k, namespace)
        time.sleep(0.25)
    assert len(seen) <= 1, f"Deployments churned: {len(seen)} distinct uids"
    assert deployment_uids(k, namespace) == seen
    assert 1 <= event_count(k, namespace, "StatusRejected") <= 2

    # A new spec is a new generation: the release tries again, and with the
    # policy gone its status sticks.
    refusing_policy()
    changed = marked(release(NAME, "v1", apps["v1"].url, "V1", hold=4))
    rel.apply(changed)
    rel.wait_condition("Ready", timeout=90)
    assert rel.condition("Stalled")["status"] == "False"


def test_huge_garbage_action_is_consumed_once_and_status_stays_small(
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    tmp_path: Path,
    gone_at_end: None,
) -> None:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1"))
    rel.wait_condition("Ready", timeout=90)
    # Near the API server's 256 KiB cap on all annotations, with characters that grow
    # when escaped: far too long to store, or to match against a stored record.
    garbage = ("extend-hold:٣<&>\u202e" * 20_000)[:200_000]
    patch = tmp_path / "action.json"
    patch.write_text(json.dumps({"metadata": {"annotations": {"bluegreen.dev/action": garbage}}}))
    k.run("patch", "bgr", NAME, "-n", namespace, "--type=merge", "--patch-file", str(patch))
    wait_for(
        "the action consumed and cleared",
        lambda: (
            (rel.status().get("lastAction") or {}).get("result", "").startswith("Rejected")
            and "bluegreen.dev/action" not in (rel.get()["metadata"].get("annotations") or {})
        ),
        timeout=30,
    )
    stored = json.dumps(rel.status(), ensure_ascii=False).encode()
    assert len(stored) < 64 * 1024
    assert rel.condition("Ready")["status"] == "True"
    assert event_count(k, namespace, "ActionConsumed") <= 2, "consumed once, not in a loop"
