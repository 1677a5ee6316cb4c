"""The release lifecycle end to end: real API server, real operator process, real app."""

from __future__ import annotations

from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "shop"


def _v1_serving(k: Kubectl, namespace: str, apps: dict[str, App]) -> tuple[Release, str]:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1"))
    rel.wait_condition("Ready")
    return rel, rel.revision()


def test_v1_then_v2_switches_and_deletes_v1_after_hold(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    assert rel.selector() == {"bluegreen.dev/release": NAME, "bluegreen.dev/revision": v1}
    assert rel.status()["active"]["readyReplicas"] == 3

    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=4))
    holding = rel.wait_phase("Holding")
    v2 = holding["revision"]
    assert v2 != v1
    assert holding["previous"]["revision"] == v1
    assert rel.selector()["bluegreen.dev/revision"] == v2
    assert set(rel.deployments()) == {v1, v2}, "v1 stays up during the hold"

    k.run("wait", "--for=condition=Ready", f"bgr/{NAME}", "-n", namespace, "--timeout=60s")
    wait_for("v1 deleted", lambda: set(rel.deployments()) == {v2})
    status = rel.status()
    assert status["phase"] == "Complete"
    assert status.get("previous") is None
    assert [h["outcome"] for h in status["history"]] == ["Promoted", "Promoted"]
    reasons = rel.events()
    for reason in ("CandidateCreated", "CandidateReady", "TrafficSwitched", "PreviousDeleted"):
        assert reason in reasons
    assert reasons.count("TrafficSwitched") == 2, "one event per switch, not per reconcile"
    assert 'bluegreen_traffic_switches_total{namespace="' in operator.metrics()


def test_failing_smoke_check_leaves_traffic_on_v1(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    rel.apply(release(NAME, "v2", apps["v2"].url, "V3 never says this"))
    stalled = rel.wait_condition("Stalled")
    assert stalled["reason"] == "SmokeCheckFailed"
    status = rel.status()
    assert status["phase"] == "Failed"
    assert rel.selector()["bluegreen.dev/revision"] == v1
    wait_for("failed candidate removed", lambda: set(rel.deployments()) == {v1})
    failed = [c for c in status["checks"] if c["revision"] == status["revision"]]
    assert failed and failed[0]["phase"] == "Failed" and failed[0]["attempts"] == 3
    assert rel.condition("Serving")["status"] == "True"


def test_candidate_never_ready_fails_at_deadline(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    rel.apply(
        release(
            NAME,
            "v2",
            apps["v2"].url,
            "V2",
            readiness_timeout=4,
            pod_labels={"test.bluegreen.dev/never-ready": "true"},
        )
    )
    rel.wait_phase("Deploying")
    stalled = rel.wait_condition("Stalled", timeout=30)
    assert stalled["reason"] == "ReadinessTimeout"
    assert rel.selector()["bluegreen.dev/revision"] == v1
    assert rel.status()["active"]["revision"] == v1


def test_failing_hold_check_rolls_back(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    # The hold check reads the v1 app while expecting V2: it fails during the hold.
    hold_check = {
        "name": "still-v2",
        "http": {"url": apps["v1"].url, "expectBody": "V2", "attempts": 1},
    }
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=30, hold_checks=[hold_check]))
    rolled = rel.wait_phase("RolledBack", timeout=60)
    assert rolled["active"]["revision"] == v1
    assert rel.selector()["bluegreen.dev/revision"] == v1
    assert rel.wait_condition("Stalled")["reason"] == "RolledBack"
    wait_for("bad revision removed", lambda: set(rel.deployments()) == {v1})
    assert "RollbackStarted" in rel.events() and "RolledBack" in rel.events()
    assert rolled["history"][-1]["outcome"] == "RolledBack"
    assert 'reason="HoldCheckFailed"' in operator.metrics()


def test_newer_spec_supersedes_in_flight_candidate(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, _v1 = _v1_serving(k, namespace, apps)
    rel.apply(
        release(
            NAME,
            "v2",
            apps["v2"].url,
            "V2",
            readiness_timeout=120,
            pod_labels={"test.bluegreen.dev/never-ready": "true"},
        )
    )
    stuck = rel.wait_phase("Deploying")
    v2 = stuck["revision"]
    rel.apply(release(NAME, "v3", apps["v2"].url, "V2"))
    wait_for(
        "v3 released",
        lambda: (
            rel.revision() != v2
            and rel.condition("Ready").get("status") == "True"
            and rel.status()["active"]["revision"] == rel.revision()
        ),
    )
    v3 = rel.revision()
    assert rel.selector()["bluegreen.dev/revision"] == v3
    outcomes = {h["revision"]: h["outcome"] for h in rel.status()["history"]}
    assert outcomes[v2] == "Superseded"
    wait_for("v2 and v1 gone", lambda: set(rel.deployments()) == {v3})
    assert v2 not in [h["revision"] for h in rel.status()["history"] if h["outcome"] == "Promoted"]


def test_manual_gate_waits_for_approval_of_this_revision(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", auto=False))
    waiting = rel.wait_phase("AwaitingPromotion")
    v2 = waiting["revision"]
    assert rel.selector()["bluegreen.dev/revision"] == v1
    k.run("annotate", f"bgr/{NAME}", "-n", namespace, "bluegreen.dev/action=promote:0000000000")
    wait_for(
        "wrong revision rejected",
        lambda: (rel.status().get("lastAction") or {}).get("result", "").startswith("Rejected"),
    )
    assert rel.status()["phase"] == "AwaitingPromotion"
    k.run(
        "annotate",
        "--overwrite",
        f"bgr/{NAME}",
        "-n",
        namespace,
        f"bluegreen.dev/action=promote:{v2}",
    )
    rel.wait_phase("Holding", "Complete")
    assert rel.selector()["bluegreen.dev/revision"] == v2
    annotations = rel.get()["metadata"].get("annotations") or {}
    assert "bluegreen.dev/action" not in annotations, "the action annotation is consumed"
    assert rel.status()["lastAction"]["result"] == f"Approved revision {v2}"


def test_spec_back_to_held_previous_is_an_instant_rollback(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, v1 = _v1_serving(k, namespace, apps)
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=120))
    rel.wait_phase("Holding")
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", hold=120))
    wait_for(
        "selector back on v1",
        lambda: rel.selector().get("bluegreen.dev/revision") == v1,
        timeout=10,
    )
    rel.wait_condition("Ready")
    assert rel.status()["active"]["revision"] == v1
    wait_for("v2 removed", lambda: set(rel.deployments()) == {v1})


def test_deleting_the_release_cleans_up(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel, _ = _v1_serving(k, namespace, apps)
    k.run("delete", f"bgr/{NAME}", "-n", namespace, "--timeout=60s")
    wait_for("deployments gone", lambda: not rel.deployments())
    wait_for("services gone", lambda: not k.json("get", "svc", NAME, "-n", namespace))
