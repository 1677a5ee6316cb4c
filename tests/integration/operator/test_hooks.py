"""Migration hooks with the operator as a real process on the real control plane.

The Job controller runs the hooks' Jobs; KWOK plays their pods, which succeed,
or fail when labelled test.bluegreen.dev/job-fail. Checked from the API server:
the expand Job before the switch, the contract Job only after the previous
Deployment is gone (never after a rollback), what a failure of each does to
the release, and one Job per hook and revision across an operator restart.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tests.conftest import Cluster
from tests.integration.conftest import started_operator
from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "shop"
SUSPEND_OFF = '{"spec": {"suspend": false}}'


def hook(name: str, fail: bool = False) -> dict[str, Any]:
    labels = {"test.bluegreen.dev/job-fail": "true"} if fail else {}
    return {
        "name": name,
        "template": {
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "migrate", "image": "migrate:1"}]},
            }
        },
        "timeoutSeconds": 60,
        "retries": 0,
    }


def with_hooks(body: dict[str, Any], **hooks: list[dict[str, Any]]) -> dict[str, Any]:
    body["spec"]["hooks"] = hooks
    return body


def hook_jobs(k: Kubectl, namespace: str) -> list[dict[str, Any]]:
    items = (k.json("get", "jobs", "-n", namespace, "-l", "bluegreen.dev/hook") or {}).get(
        "items", []
    )
    return sorted(items, key=lambda j: j["metadata"]["creationTimestamp"])


def labels_of(job: dict[str, Any]) -> tuple[str, str, str]:
    labels = job["metadata"]["labels"]
    return (
        labels["bluegreen.dev/hook-point"],
        labels["bluegreen.dev/hook"],
        labels["bluegreen.dev/revision"],
    )


def hook_line(rel: Release, point: str, name: str, revision: str) -> dict[str, Any]:
    for line in rel.status().get("hooks") or []:
        if (line["point"], line["name"], line["revision"]) == (point, name, revision):
            return dict(line)
    return {}


def stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def v1_serving(k: Kubectl, namespace: str, apps: dict[str, App], **hooks: Any) -> Release:
    rel = Release(k, namespace, NAME)
    rel.apply(with_hooks(release(NAME, "v1", apps["v1"].url, "V1"), **hooks))
    rel.wait_condition("Ready", timeout=90)
    return rel


def test_expand_before_the_switch_contract_after_the_previous_is_gone(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    hooks = {
        "preSwitch": [hook("expand")],
        "postSwitch": [hook("backfill")],
        "postCleanup": [hook("contract")],
    }
    rel = v1_serving(k, namespace, apps, **hooks)
    v1 = rel.revision()
    rel.apply(with_hooks(release(NAME, "v2", apps["v2"].url, "V2", hold=3), **hooks))
    wait_for("v2 switched", lambda: rel.revision() != v1 and rel.selector(), timeout=60)
    v2 = rel.revision()
    contract = wait_for(
        "the contract hook to succeed",
        lambda: (
            hook_line(rel, "postCleanup", "contract", v2).get("phase") == "Succeeded"
            and hook_line(rel, "postCleanup", "contract", v2)
        ),
        timeout=120,
    )
    assert contract["previousRevision"] == v1
    jobs = [labels_of(j) for j in hook_jobs(k, namespace) if labels_of(j)[2] == v2]
    assert jobs == [("preSwitch", "expand", v2), ("postSwitch", "backfill", v2), contract_key(v2)]
    expand = hook_line(rel, "preSwitch", "expand", v2)
    switched = stamp(rel.status()["active"]["switchedAt"])
    assert stamp(expand["finishedAt"]) <= switched, "the switch waited for the expand hook"
    # The contract Job was created once v1's Deployment was gone (PreviousDeleted first).
    assert v1 not in rel.deployments()
    reasons = rel.events()
    assert reasons.index("PreviousDeleted") < len(reasons) - 1
    job = next(j for j in hook_jobs(k, namespace) if labels_of(j) == contract_key(v2))
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {
        "BLUEGREEN_RELEASE": NAME,
        "BLUEGREEN_NAMESPACE": namespace,
        "BLUEGREEN_REVISION": v2,
        "BLUEGREEN_PREVIOUS_REVISION": v1,
        "BLUEGREEN_HOOK": "postCleanup",
    }
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 60
    rel.wait_condition("Ready", timeout=30)
    assert rel.condition("Degraded")["status"] == "False"


def contract_key(revision: str) -> tuple[str, str, str]:
    return ("postCleanup", "contract", revision)


def test_a_failed_expand_keeps_traffic_where_it_is(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = v1_serving(k, namespace, apps)
    v1 = rel.revision()
    hooks = {"preSwitch": [hook("expand", fail=True)], "postCleanup": [hook("contract")]}
    rel.apply(with_hooks(release(NAME, "v2", apps["v2"].url, "V2"), **hooks))
    stalled = rel.wait_condition("Stalled", timeout=90)
    assert stalled["reason"] == "HookFailed"
    assert "preSwitch hook expand failed" in stalled["message"]
    assert rel.selector()["bluegreen.dev/revision"] == v1
    assert rel.status()["phase"] == "Failed"
    assert [labels_of(j)[:2] for j in hook_jobs(k, namespace)] == [("preSwitch", "expand")]


def test_a_failed_contract_marks_the_release_degraded(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = v1_serving(k, namespace, apps)
    hooks = {"postCleanup": [hook("contract", fail=True)]}
    rel.apply(with_hooks(release(NAME, "v2", apps["v2"].url, "V2", hold=2), **hooks))
    degraded = rel.wait_condition("Degraded", timeout=120)
    assert degraded["reason"] == "HookFailed"
    assert "postCleanup hook contract failed" in degraded["message"]
    v2 = rel.revision()
    assert rel.selector()["bluegreen.dev/revision"] == v2
    assert rel.status()["phase"] == "Complete"
    assert rel.condition("Ready")["status"] == "True"


def test_a_rollback_during_the_hold_never_contracts(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = v1_serving(k, namespace, apps)
    v1 = rel.revision()
    hooks = {"preSwitch": [hook("expand")], "postCleanup": [hook("contract")]}
    # The hold check reads the v1 app while expecting V2: it fails during the hold.
    failing = [{"name": "live", "http": {"url": apps["v1"].url, "expectBody": "V2"}}]
    body = release(NAME, "v2", apps["v2"].url, "V2", hold=4, hold_checks=failing)
    rel.apply(with_hooks(body, **hooks))
    rel.wait_phase("RolledBack", timeout=90)
    wait_for("v2 collected", lambda: len(rel.deployments()) == 1, timeout=60)
    assert set(rel.deployments()) == {v1}
    assert rel.selector()["bluegreen.dev/revision"] == v1
    points = [labels_of(j)[0] for j in hook_jobs(k, namespace)]
    assert "postCleanup" not in points
    assert not [h for h in rel.status().get("hooks") or [] if h["point"] == "postCleanup"]


def test_a_restart_mid_job_follows_the_same_job(
    cluster: Cluster, k: Kubectl, namespace: str, apps: dict[str, App], tmp_path: Path
) -> None:
    """The operator is killed as soon as the expand Job exists; a new one finds it by
    name and the release goes on with that one Job (never a second run)."""

    def start() -> Operator:
        return started_operator(cluster, namespace, tmp_path / "operator.log")

    first = start()
    try:
        rel = v1_serving(k, namespace, apps)
        v1 = rel.revision()
        slow = hook("expand")
        # Suspended: the Job runs no pod until the test resumes it, after the restart.
        slow["template"]["suspend"] = True
        rel.apply(with_hooks(release(NAME, "v2", apps["v2"].url, "V2"), preSwitch=[slow]))
        job = wait_for("the expand Job", lambda: hook_jobs(k, namespace), timeout=60)[0]
    finally:
        first.kill()
    name = job["metadata"]["name"]
    second = start()
    try:
        wait_for(
            "the restarted operator following the Job",
            lambda: (
                (line := hook_line(rel, "preSwitch", "expand", rel.revision()))
                and line.get("job") == name
                and line.get("phase") == "Running"
            ),
            timeout=60,
        )
        k.run("patch", "job", name, "-n", namespace, "--type=merge", "-p", SUSPEND_OFF)
        wait_for(
            "v2 switched",
            lambda: rel.status().get("active", {}).get("revision") not in ("", v1),
            timeout=120,
        )
    finally:
        second.kill()
    assert [j["metadata"]["name"] for j in hook_jobs(k, namespace)] == [name]
    assert hook_line(rel, "preSwitch", "expand", rel.revision())["phase"] == "Succeeded"
