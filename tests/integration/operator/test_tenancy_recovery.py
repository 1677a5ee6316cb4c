"""Foreign objects, hand edits and recovery paths, with the real operator and API server.

Each test plays a careless or hostile tenant of a shared namespace, or an SRE
who edits things by hand, and checks that the release never writes what is not
its own, reports honestly, and recovers in every phase.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "shop"


def _v1_serving(k: Kubectl, namespace: str, apps: dict[str, App]) -> tuple[Release, str]:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1"))
    rel.wait_condition("Ready")
    return rel, rel.revision()


def _foreign_service(
    k: Kubectl, namespace: str, name: str, annotations: dict[str, str] | None = None
) -> dict[str, object]:
    """A Service another team made: no operator labels, a selector of its own."""
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"team": "billing"},
                "annotations": annotations or {},
            },
            "spec": {"selector": {"app": "billing"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )
    return dict(k.json("get", "svc", name, "-n", namespace) or {})


@pytest.fixture
def own_app() -> Iterator[App]:
    """A demo app this test may stop: hold checks that start failing."""
    app = App("v2")
    yield app
    app.stop()


def test_renaming_the_service_to_another_teams_service_leaves_it_untouched(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    before = _foreign_service(k, namespace, "billing")
    body = release(NAME, "v1", apps["v1"].url, "V1")
    body["spec"]["service"]["name"] = "billing"
    rel.apply(body)
    stalled = rel.wait_condition("Stalled")
    assert stalled["reason"] == "ServiceNotOwned"
    assert "billing" in stalled["message"]
    after = k.json("get", "svc", "billing", "-n", namespace) or {}
    # Never written: same object, same version, same selector.
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["selector"] == {"app": "billing"}
    assert rel.condition("Ready")["status"] == "False"
    # The release's own Service keeps serving v1.
    assert rel.selector(NAME)["bluegreen.dev/revision"] == v1
    assert "ServiceNotOwned" in rel.events()


def test_a_foreign_service_is_adopted_only_with_the_annotation(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    _foreign_service(k, namespace, NAME, {"bluegreen.dev/adopt": NAME})
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1"))
    rel.wait_condition("Ready")
    svc = k.json("get", "svc", NAME, "-n", namespace) or {}
    assert svc["metadata"]["labels"]["bluegreen.dev/release"] == NAME
    assert rel.selector()["bluegreen.dev/revision"] == rel.revision()


def test_deleting_the_stable_service_is_reported_and_repaired(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    old_uid = (k.json("get", "svc", NAME, "-n", namespace) or {})["metadata"]["uid"]
    deleted_at = datetime.now(UTC).replace(microsecond=0)
    k.run("delete", "svc", NAME, "-n", namespace)
    wait_for(
        "stable Service re-created",
        lambda: (
            (s := k.json("get", "svc", NAME, "-n", namespace)) and s["metadata"]["uid"] != old_uid
        ),
        timeout=60,
    )
    ready = rel.wait_condition("Ready")
    # Ready went False and back: its transition time is after the deletion.
    flipped = datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00"))
    assert flipped >= deleted_at
    assert rel.selector()["bluegreen.dev/revision"] == v1
    assert rel.status()["phase"] == "Complete"


def test_a_candidate_edited_by_hand_is_replaced_before_any_switch(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", auto=False))
    waiting = rel.wait_phase("AwaitingPromotion")
    v2 = waiting["revision"]
    deployment = f"{NAME}-{v2}"
    edited_uid = rel.deployments()[v2]["metadata"]["uid"]
    k.run("set", "env", f"deploy/{deployment}", "-n", namespace, "SNEAKED_IN=1")
    wait_for("CandidateModified event", lambda: "CandidateModified" in rel.events(), timeout=30)
    fresh = wait_for(
        "candidate re-created",
        lambda: (d := rel.deployments().get(v2)) and d["metadata"]["uid"] != edited_uid and d,
        timeout=60,
    )
    env = fresh["spec"]["template"]["spec"]["containers"][0].get("env") or []
    assert all(e["name"] != "SNEAKED_IN" for e in env)
    assert rel.selector()["bluegreen.dev/revision"] == v1
    rel.wait_phase("AwaitingPromotion", timeout=60)
    k.run("annotate", "bgr", NAME, "-n", namespace, "--overwrite", "bluegreen.dev/action=promote")
    rel.wait_phase("Holding", "Complete", timeout=60)
    assert rel.selector()["bluegreen.dev/revision"] == v2


def test_replicas_change_reaches_the_active_deployment_during_the_hold(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, _ = _v1_serving(k, namespace, apps)
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=120))
    v2 = rel.wait_phase("Holding")["revision"]
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=120, replicas=2))
    wait_for(
        "active scaled to 2",
        lambda: rel.deployments()[v2]["spec"]["replicas"] == 2,
        timeout=30,
    )
    assert rel.status()["phase"] == "Holding"


def test_rollback_to_a_scaled_down_previous_scales_it_up_then_switches(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=300))
    v2 = rel.wait_phase("Holding")["revision"]
    k.run("scale", f"deploy/{NAME}-{v1}", "-n", namespace, "--replicas=0")
    wait_for(
        "v1 scaled down",
        lambda: not (rel.deployments()[v1].get("status") or {}).get("readyReplicas"),
        timeout=30,
    )
    k.run("annotate", "bgr", NAME, "-n", namespace, "--overwrite", "bluegreen.dev/action=rollback")
    rel.wait_phase("RolledBack", timeout=90)
    assert rel.selector()["bluegreen.dev/revision"] == v1
    assert rel.deployments()[v1]["spec"]["replicas"] == 3
    # The operator, not the test, brought v1 back to the serving size before switching.
    reasons = rel.events()
    assert "RollbackWaiting" in reasons and "RollbackStarted" in reasons
    assert v2 != v1


def test_hold_checks_still_roll_back_while_a_newer_candidate_is_in_flight(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App], own_app: App
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    live = [{"name": "live", "http": {"url": own_app.url, "path": "/", "expectBody": "V2"}}]
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=300, hold_checks=live))
    rel.wait_phase("Holding")
    # v3 never becomes ready: it stays in flight beside the hold.
    rel.apply(
        release(
            NAME,
            "v3",
            apps["v2"].url,
            "V2",
            hold=300,
            hold_checks=live,
            readiness_timeout=600,
            pod_labels={"test.bluegreen.dev/never-ready": "true"},
        )
    )
    rel.wait_phase("Deploying")
    own_app.stop()
    wait_for(
        "rolled back to v1",
        lambda: rel.selector().get("bluegreen.dev/revision") == v1,
        timeout=60,
    )
    assert "RollbackStarted" in rel.events()


def test_status_stays_small_for_the_largest_accepted_checks(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    """Sixteen failing checks with the longest accepted bodies: status stays < 64 KiB."""
    smoke = [
        {
            "name": f"check-{i}",
            "http": {"url": apps["v1"].url, "path": "/" + "p" * 1000, "expectBody": "x" * 1024},
        }
        for i in range(16)
    ]
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", smoke=smoke))
    rel.wait_condition("Stalled", timeout=120)
    assert len(json.dumps(rel.status())) < 64 * 1024


def test_another_service_selecting_the_release_pods_is_flagged(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "catch-all", "namespace": namespace},
            "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80}]},
        }
    )
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", pod_labels={"app": "shop"}))
    isolated = rel.wait_condition("Isolated", "False")
    assert isolated["reason"] == "SelectedByOtherService"
    assert "catch-all" in isolated["message"]
    assert "SelectedByOtherService" in rel.events()


def test_a_deployment_squatting_the_candidates_name_stalls_the_release(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    """Another team's Deployment, without our labels, under the very name the
    candidate will get: the operator only learns of it when its create is refused
    (the object is not in its label-selected cache), and must then stall, never
    touching it, instead of creating again and again."""
    from bluegreen.core import names
    from bluegreen.core.revision import compute_revision

    body = release(NAME, "v1", apps["v1"].url, "V1")
    taken = names.deployment_name(NAME, compute_revision(body["spec"]["template"]))
    k.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": taken, "namespace": namespace, "labels": {"team": "billing"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "billing"}},
                "template": {
                    "metadata": {"labels": {"app": "billing"}},
                    "spec": {"containers": [{"name": "c", "image": "billing:1"}]},
                },
            },
        }
    )
    before = k.json("get", "deployment", taken, "-n", namespace)
    rel = Release(k, namespace, NAME)
    rel.apply(body)
    stalled = rel.wait_condition("Stalled")
    assert stalled["reason"] == "DeploymentNotOwned", stalled
    after = k.json("get", "deployment", taken, "-n", namespace)
    # Its controller keeps writing its status; what the operator could have written
    # (spec, labels, owners) is as the other team left it.
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"].get("labels") == {"team": "billing"}
    assert not after["metadata"].get("ownerReferences")
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "billing:1"
