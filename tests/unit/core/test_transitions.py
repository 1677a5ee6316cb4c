"""Table-driven tests of decide(): every transition of a release, through the fake world."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.core import names
from bluegreen.core.actions import (
    ApplyInfrastructure,
    ClearActionAnnotation,
    CreateDeployment,
    CreateJob,
    DeleteDeployment,
    EmitEvent,
    PatchSelector,
    RunHttpCheck,
)
from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.status import Phase, ReleaseStatus

from .world import (
    Release,
    World,
    condition,
    http_check,
    is_ready,
    is_stalled,
    job_check,
    make_spec,
    revision_of,
)

V1, V2, V3 = "shop:v1", "shop:v2", "shop:v3"


def released(image: str = V1, **spec: Any) -> Release:
    """A release whose first revision is live and Complete."""
    raw = make_spec(image, **spec)
    if not spec.get("auto", True):
        raw = make_spec(image, **{**spec, "approved": revision_of(raw)})
    release = Release(raw)
    release.step()
    release.step()  # a Job check finishes and wakes the next reconcile
    assert release.status.phase == Phase.COMPLETE, release.status.message
    return release


def phases(release: Release) -> list[str]:
    """Every phase written or decided, in order, without repeats."""
    seen: list[str] = []
    for result in release.steps:
        for decision in result.decisions:
            if not seen or seen[-1] != decision.status.phase:
                seen.append(decision.status.phase)
    return seen


def selected(release: Release) -> str | None:
    return release.world.stable_revision()


@pytest.fixture(autouse=True)
def _no_violations() -> Any:
    """Every scenario also checks the invariants the world watches."""
    worlds: list[World] = []
    original = World.__init__

    def tracking(self: World, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        worlds.append(self)

    World.__init__ = tracking  # type: ignore[method-assign]
    try:
        yield
    finally:
        World.__init__ = original  # type: ignore[method-assign]
    for world in worlds:
        assert world.violations == []


# ------------------------------------------------------------------ first release


def test_first_release_goes_through_every_phase_without_hold() -> None:
    release = Release(make_spec(V1, smoke=[http_check("home")], hold=600))
    release.world.auto_ready = False
    release.step()
    assert release.status.phase == Phase.DEPLOYING
    assert phases(release) == [Phase.PROVISIONING, Phase.DEPLOYING]
    assert condition(release.status, ConditionType.RECONCILING) == TRUE
    assert condition(release.status, ConditionType.READY) == FALSE
    assert selected(release) is None
    release.world.set_ready(revision_of(release.spec))
    release.advance(5)
    assert phases(release) == [
        Phase.PROVISIONING,
        Phase.DEPLOYING,
        Phase.VERIFYING,
        Phase.SWITCHING,
        Phase.COMPLETE,
    ]
    status = release.status
    rev = revision_of(release.spec)
    assert status.active is not None and status.active.revision == rev
    assert status.previous is None  # nothing to hold on the first release
    assert selected(release) == rev
    assert is_ready(status) and not is_stalled(status)
    assert condition(status, ConditionType.RECONCILING) == FALSE
    assert condition(status, ConditionType.SERVING) == TRUE
    assert status.served
    assert [h.outcome for h in status.history] == ["Promoted"]
    assert "TrafficSwitched" in release.reasons()


def test_first_release_points_preview_at_candidate_and_creates_services() -> None:
    release = released()
    rev = revision_of(release.spec)
    preview = release.world.services["shop-preview"]
    assert preview.selector == names.revision_selector("shop", rev)
    assert release.status.infrastructure.applied
    assert release.status.infrastructure.outputs["stableClusterIP"] == "10.96.0.10"


def test_first_release_with_invalid_replicas_in_observed_world_creates_spec_replicas() -> None:
    release = released(replicas=4)
    manifest = release.actions_of(CreateDeployment)[0].manifest
    assert manifest["spec"]["replicas"] == 4


# ------------------------------------------------------------------ v1 -> v2 with hold


def test_v2_holds_previous_then_deletes_it_after_the_hold() -> None:
    release = released(V1, hold=600)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, hold=600)
    v2 = revision_of(release.spec)
    release.step()
    status = release.status
    assert status.phase == Phase.HOLDING
    assert status.active is not None and status.active.revision == v2
    assert status.previous is not None and status.previous.revision == v1
    assert status.previous.delete_after == "2026-01-01T12:10:00Z"  # now + 600s
    assert selected(release) == v2
    assert v1 in release.world.deployments
    # Holding is in flight: Reconciling, not Ready.
    assert condition(status, ConditionType.RECONCILING) == TRUE
    assert not is_ready(status)
    result = release.step()
    assert result.last.requeue_after == pytest.approx(600)
    release.advance(599)
    assert v1 in release.world.deployments and release.status.phase == Phase.HOLDING
    release.advance(1)
    assert release.status.phase == Phase.COMPLETE
    assert release.status.previous is None
    assert v1 not in release.world.deployments or release.world.deployments[v1].deleting
    assert "PreviousDeleted" in release.reasons()
    assert is_ready(release.status)


def test_candidate_gets_the_active_replica_count() -> None:
    release = released(V1, replicas=2)
    v1 = revision_of(release.spec)
    # Someone scaled v1 by hand (HPA or kubectl): the candidate matches what serves.
    release.world.deployments[v1].replicas = 5
    release.spec = make_spec(V2, replicas=2)
    release.step()
    creates = release.actions_of(CreateDeployment)
    assert creates[-1].manifest["spec"]["replicas"] == 5


def test_previous_not_deleted_while_still_routed() -> None:
    release = released(V1, hold=60)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, hold=60)
    release.world.endpoints_lag = True
    release.step()
    # The EndpointSlices still show v1: the switch is not confirmed.
    assert release.status.phase == Phase.SWITCHING
    # Past the hold, within the switch deadline (120 s): v1 is still reached.
    release.advance(100)
    assert release.status.phase == Phase.SWITCHING
    assert v1 in release.world.deployments
    assert not release.actions_of(DeleteDeployment)
    release.world.endpoints_lag = False
    release.advance(1)
    assert release.status.phase == Phase.COMPLETE
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v1]


def test_switch_not_confirmed_by_its_deadline_goes_back_to_the_held_revision() -> None:
    release = released(V1, hold=600)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, hold=600)
    release.world.endpoints_lag = True
    release.step()
    assert release.status.phase == Phase.SWITCHING
    release.advance(121)
    assert release.status.active is not None
    assert release.status.active.revision == v1
    assert release.world.services["shop"].selector == names.revision_selector("shop", v1)
    assert release.status.phase == Phase.ROLLED_BACK
    assert any(
        e.reason == "RollbackStarted" and "did not reach" in e.message
        for e in release.actions_of(EmitEvent)
    )


def test_selector_edited_by_hand_is_restored_and_previous_kept_until_unrouted() -> None:
    release = released(V1, hold=60)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, hold=60)
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.HOLDING
    # Someone moved the selector back by hand during the hold.
    release.world.services["shop"].selector = names.revision_selector("shop", v1)
    release.world.sync_endpoints()
    release.world.endpoints_lag = True
    release.advance(61)
    assert selected(release) == v2
    assert "SelectorRestored" in release.reasons()
    # v1 still has endpoints in the (lagging) EndpointSlices: it is kept.
    assert v1 in release.world.deployments
    assert not [d for d in release.actions_of(DeleteDeployment) if d.revision == v1]
    release.world.endpoints_lag = False
    release.advance(1)
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v1]
    assert is_ready(release.status)


def test_recreated_stable_service_selects_the_active_revision_again() -> None:
    release = released(V1)
    v1 = revision_of(release.spec)
    del release.world.services["shop"]  # deleted by hand; Terraform re-creates it empty
    release.step()
    assert len(release.actions_of(ApplyInfrastructure)) == 2
    assert selected(release) == v1
    assert is_ready(release.status)


def test_lost_status_write_after_a_switch_is_repaired() -> None:
    """A crash right after the selector patch, then the spec goes back to v1."""
    release = released(V1)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2)
    v2 = revision_of(release.spec)
    result = release.step(crash_at=(1, 99))
    assert result.crashed and selected(release) == v2
    assert release.status.active is not None and release.status.active.revision == v1
    release.spec = make_spec(V1)
    release.advance(1)
    assert selected(release) == v1
    assert is_ready(release.status)
    release.advance(1)
    assert set(release.world.deployments) == {v1}


def test_selector_not_restored_to_an_unready_active_revision() -> None:
    release = released(V1)
    v1 = revision_of(release.spec)
    release.world.services["shop"].selector = names.revision_selector("shop", "0000000000")
    release.world.auto_ready = False
    release.world.set_ready(v1, 1)
    release.step()
    assert not [p for p in release.actions_of(PatchSelector) if p.stable][1:]
    assert is_stalled(release.status) and not is_ready(release.status)
    assert release.status.condition(ConditionType.STALLED).reason == "SelectorDiverged"  # type: ignore[union-attr]
    release.world.set_ready(v1)
    release.advance(1)
    assert selected(release) == v1
    assert is_ready(release.status)


# ------------------------------------------------------------------ failures before the switch


def test_readiness_timeout_fails_and_leaves_traffic_alone() -> None:
    release = released(V1, readiness_timeout=120)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, readiness_timeout=120)
    v2 = revision_of(release.spec)
    release.world.ready_cap[v2] = 2  # one replica of three never becomes ready
    release.step()
    assert release.status.phase == Phase.DEPLOYING
    assert release.status.preview is not None
    assert release.status.preview.ready_replicas == 2
    release.advance(119)
    assert release.status.phase == Phase.DEPLOYING
    release.advance(1)
    status = release.status
    assert status.phase == Phase.FAILED
    assert is_stalled(status) and not is_ready(status)
    assert condition(status, ConditionType.RECONCILING) == FALSE
    assert condition(status, ConditionType.CANDIDATE_READY) == FALSE
    assert status.condition(ConditionType.STALLED).reason == "ReadinessTimeout"  # type: ignore[union-attr]
    assert condition(status, ConditionType.SERVING) == TRUE
    assert selected(release) == v1
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v2]
    assert status.failed_revision == v2
    assert status.history[-1].outcome == "Failed"
    assert not [p for p in release.actions_of(PatchSelector) if p.stable and p.revision == v2]
    # It stays failed: no retry of the same revision.
    release.advance(600)
    assert release.status.phase == Phase.FAILED
    assert len(release.actions_of(CreateDeployment)) == 2


@pytest.mark.parametrize("kind", ["http", "job"])
def test_smoke_failure_fails_with_smoke_check_failed(kind: str) -> None:
    check = http_check("home") if kind == "http" else job_check("e2e")
    name = check["name"]
    release = released(V1, smoke=[check])
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, smoke=[check])
    v2 = revision_of(release.spec)
    outcomes = release.world.http_outcomes if kind == "http" else release.world.job_outcomes
    outcomes[(name, v2)] = False
    release.step()
    release.step()
    status = release.status
    assert status.phase == Phase.FAILED
    assert is_stalled(status)
    assert status.condition(ConditionType.STALLED).reason == "SmokeCheckFailed"  # type: ignore[union-attr]
    assert condition(status, ConditionType.CHECKS_PASSED) == FALSE
    assert "SmokeCheckFailed" in release.reasons()
    assert selected(release) == v1
    assert v2 not in release.world.deployments or release.world.deployments[v2].deleting
    smoke = [c for c in status.checks if c.revision == v2 and c.stage == "smoke"]
    assert [c.phase for c in smoke] == ["Failed"]
    if kind == "job":
        job = release.actions_of(CreateJob)[-1].manifest
        assert job["metadata"]["name"] == f"shop-{v2}-smoke-e2e-1"


def test_smoke_checks_target_the_candidate_through_the_preview_service() -> None:
    release = released(V1, smoke=[http_check("home", "/health")])
    release.spec = make_spec(V2, smoke=[http_check("home", "/health")])
    release.step()
    runs = release.actions_of(RunHttpCheck)
    assert runs[-1].url == "http://10.96.0.11:80/health"
    assert runs[-1].revision == revision_of(release.spec)


def test_job_smoke_check_waits_for_the_job() -> None:
    release = released(V1, smoke=[job_check("e2e")])
    release.world.auto_jobs = False
    release.spec = make_spec(V2, smoke=[job_check("e2e")])
    release.step()
    assert release.status.phase == Phase.VERIFYING
    release.advance(10)
    assert release.status.phase == Phase.VERIFYING
    assert len(release.actions_of(CreateJob)) == 2  # v1's and v2's, each once
    release.world.finish_jobs()
    release.advance(1)
    assert release.status.phase == Phase.COMPLETE


def test_lost_job_is_created_again() -> None:
    release = released(V1, smoke=[job_check("e2e")])
    release.world.auto_jobs = False
    release.spec = make_spec(V2, smoke=[job_check("e2e")])
    release.step()
    release.world.jobs.clear()
    release.advance(1)
    assert len(release.actions_of(CreateJob)) == 3
    release.world.finish_jobs()
    release.advance(1)
    assert release.status.phase == Phase.COMPLETE


def test_failed_revision_retried_after_another_spec_runs_fresh_checks() -> None:
    check = http_check("home")
    release = released(V1, smoke=[check])
    release.spec = make_spec(V2, smoke=[check])
    v2 = revision_of(release.spec)
    release.world.http_outcomes[("home", v2)] = False
    release.step()
    assert release.status.phase == Phase.FAILED
    release.spec = make_spec(V3, smoke=[check], readiness_timeout=30)
    release.world.auto_ready = False
    release.step()
    assert release.status.phase == Phase.DEPLOYING
    # The fix is deployed under the old tag: v2 again, now healthy.
    release.world.http_outcomes.clear()
    release.world.auto_ready = True
    release.spec = make_spec(V2, smoke=[check])
    release.advance(1)
    assert release.status.phase == Phase.COMPLETE, release.status.message
    assert selected(release) == v2


def test_job_check_of_a_retried_revision_does_not_reuse_an_old_job() -> None:
    check = job_check("e2e")
    release = released(V1, smoke=[check])
    release.spec = make_spec(V2, smoke=[check])
    v2 = revision_of(release.spec)
    release.world.job_outcomes[("e2e", v2)] = False
    release.step()
    release.step()
    assert release.status.phase == Phase.FAILED
    release.spec = make_spec(V3, smoke=[check])
    release.world.auto_ready = False
    release.step()
    release.world.job_outcomes.clear()
    release.world.auto_ready = True
    release.spec = make_spec(V2, smoke=[check])
    release.advance(1)
    release.advance(1)
    assert release.status.phase == Phase.COMPLETE, release.status.message
    names_v2 = [a.manifest["metadata"]["name"] for a in release.actions_of(CreateJob)]
    assert len(set(names_v2)) == len(names_v2)


# ------------------------------------------------------------------ manual gate


def gated() -> Release:
    release = released(V1, auto=False)
    release.spec = make_spec(V2, auto=False)
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    assert condition(release.status, ConditionType.RECONCILING) == TRUE
    assert not is_ready(release.status) and not is_stalled(release.status)
    return release


def test_first_release_with_manual_gate_also_waits() -> None:
    release = Release(make_spec(V1, auto=False))
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    assert selected(release) is None


def test_promote_annotation_for_this_revision_switches() -> None:
    release = gated()
    v2 = revision_of(release.spec)
    release.advance(3600)
    assert release.status.phase == Phase.AWAITING_PROMOTION
    release.world.annotation = f"promote:{v2}"
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert selected(release) == v2
    assert release.world.annotation is None
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Approved")


def test_bare_promote_approves_the_desired_revision() -> None:
    release = gated()
    release.world.annotation = "promote"
    release.step()
    assert selected(release) == revision_of(release.spec)


def test_promote_of_another_revision_is_rejected() -> None:
    release = gated()
    v1 = revision_of(make_spec(V1))
    release.world.annotation = "promote:0123456789"
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    assert selected(release) == v1
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Rejected")
    assert release.world.annotation is None
    assert any(e.type == "Warning" and e.reason == "ActionConsumed" for e in release.world.events)


def test_approved_revision_in_spec_switches() -> None:
    release = gated()
    v2 = revision_of(release.spec)
    release.spec = make_spec(V2, auto=False, approved=v2)
    release.step()
    assert selected(release) == v2
    assert release.status.phase == Phase.COMPLETE


def test_approval_of_an_older_revision_does_not_carry_over() -> None:
    release = gated()
    release.world.annotation = "promote"
    release.spec = make_spec(V2, auto=False)
    release.step()
    v2 = revision_of(release.spec)
    assert selected(release) == v2
    release.spec = make_spec(V3, auto=False)
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    assert selected(release) == v2


def test_switch_refused_while_a_candidate_replica_is_not_ready() -> None:
    release = gated()
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.world.auto_ready = False
    release.world.set_ready(v2, 2)  # one pod fell over while waiting for approval
    release.world.annotation = "promote"
    release.step()
    assert selected(release) == v1
    assert release.status.phase in (Phase.DEPLOYING, Phase.VERIFYING)
    assert not [p for p in release.actions_of(PatchSelector) if p.stable and p.revision == v2]
    release.world.set_ready(v2)
    release.advance(1)
    assert selected(release) == v2


# ------------------------------------------------------------------ hold checks and rollback


def holding(**extra: Any) -> Release:
    spec: dict[str, Any] = {"hold": 600, "hold_checks": [http_check("live")], **extra}
    release = released(V1, **spec)
    release.spec = make_spec(V2, **spec)
    release.step()
    assert release.status.phase == Phase.HOLDING
    return release


def test_hold_checks_run_against_the_stable_service_and_rerun() -> None:
    release = holding(hold_interval=60)
    runs = [r for r in release.actions_of(RunHttpCheck) if r.stage == "hold"]
    assert [r.url for r in runs] == ["http://10.96.0.10:80/"]
    release.advance(30)
    assert len([r for r in release.actions_of(RunHttpCheck) if r.stage == "hold"]) == 1
    release.advance(30)
    assert len([r for r in release.actions_of(RunHttpCheck) if r.stage == "hold"]) == 2
    release.advance(600)
    assert release.status.phase == Phase.COMPLETE


def test_hold_check_failure_rolls_back_automatically() -> None:
    release = holding(hold_interval=60)
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.world.http_outcomes[("live", v2)] = False
    release.world.endpoints_lag = True
    release.advance(60)
    assert selected(release) == v1
    assert release.status.phase == Phase.SWITCHING
    assert v2 in release.world.deployments  # still routed per the EndpointSlices
    assert not release.actions_of(DeleteDeployment)
    release.world.endpoints_lag = False
    release.advance(1)
    status = release.status
    assert status.phase == Phase.ROLLED_BACK
    assert is_stalled(status) and not is_ready(status)
    assert status.condition(ConditionType.STALLED).reason == "RolledBack"  # type: ignore[union-attr]
    assert status.active is not None and status.active.revision == v1
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v2]
    assert "RolledBack" in release.reasons()
    assert status.history[-1].outcome == "RolledBack"
    assert condition(status, ConditionType.SERVING) == TRUE
    release.advance(3600)
    assert release.status.phase == Phase.ROLLED_BACK
    assert selected(release) == v1


def test_rollback_to_an_unready_previous_scales_it_up_and_switches_once_ready() -> None:
    release = holding(hold_interval=60)
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.world.auto_ready = False
    release.world.deployments[v1].replicas = 1
    release.world.set_ready(v1, 1)
    release.world.http_outcomes[("live", v2)] = False
    release.advance(60)
    # Never onto a revision with fewer ready pods than wanted: v2 keeps the traffic ...
    assert selected(release) == v2
    # ... while v1 is scaled back to the serving size, and the release says so.
    assert release.world.deployments[v1].replicas == release.world.deployments[v2].replicas
    assert not is_stalled(release.status)
    assert "RollbackWaiting" in release.reasons()
    assert "rolling back to" in release.status.message
    release.world.set_ready(v1)
    release.advance(10)
    assert selected(release) == v1
    assert release.status.phase == Phase.ROLLED_BACK


def test_rollback_to_a_previous_edited_by_hand_is_refused() -> None:
    release = holding(hold_interval=60)
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.world.deployments[v1].template_changed = True
    release.world.http_outcomes[("live", v2)] = False
    release.advance(60)
    assert selected(release) == v2
    assert is_stalled(release.status)
    assert "RollbackBlocked" in release.reasons()


def test_spec_back_to_held_previous_is_an_instant_rollback_then_complete() -> None:
    release = holding()
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.spec = make_spec(V1, hold=600, hold_checks=[http_check("live")])
    before = len(release.actions_of(CreateDeployment))
    release.step()
    assert selected(release) == v1
    assert len(release.actions_of(CreateDeployment)) == before  # no redeploy: instant
    status = release.status
    assert status.phase == Phase.COMPLETE
    assert is_ready(status) and not is_stalled(status)
    assert status.active is not None and status.active.revision == v1
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v2]


def test_rolled_back_release_acknowledged_by_spec_becomes_ready() -> None:
    release = holding(hold_interval=60)
    release.world.http_outcomes[("live", revision_of(release.spec))] = False
    release.advance(60)
    assert release.status.phase == Phase.ROLLED_BACK
    release.spec = make_spec(V1, hold=600, hold_checks=[http_check("live")])
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert is_ready(release.status)


# ------------------------------------------------------------------ superseding


def test_new_spec_supersedes_candidate_in_flight() -> None:
    release = released(V1)
    v1 = revision_of(release.spec)
    release.world.auto_ready = False
    release.spec = make_spec(V2)
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.DEPLOYING
    release.spec = make_spec(V3)
    v3 = revision_of(release.spec)
    release.step()
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v2]
    assert release.status.preview is not None and release.status.preview.revision == v3
    assert [(h.revision, h.outcome) for h in release.status.history][-1] == (v2, "Superseded")
    assert selected(release) == v1
    release.world.auto_ready = True
    release.advance(1)
    assert selected(release) == v3
    switched = [p.revision for p in release.actions_of(PatchSelector) if p.stable]
    assert v2 not in switched


def test_superseded_candidate_awaiting_promotion_is_never_switched_to() -> None:
    release = gated()
    v2 = revision_of(release.spec)
    release.spec = make_spec(V3, auto=False)
    release.world.annotation = f"promote:{v2}"
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    switched = [p.revision for p in release.actions_of(PatchSelector) if p.stable]
    assert v2 not in switched


def test_new_spec_during_hold_retires_the_older_hold() -> None:
    release = holding()
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.spec = make_spec(V3, hold=600, hold_checks=[http_check("live")])
    v3 = revision_of(release.spec)
    release.step()
    assert selected(release) == v3
    assert release.status.previous is not None and release.status.previous.revision == v2
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v1]


# ------------------------------------------------------------------ human actions


def test_abort_fails_candidate_in_flight() -> None:
    release = gated()
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.world.annotation = "abort"
    release.step()
    status = release.status
    assert status.phase == Phase.FAILED and is_stalled(status)
    assert status.failed_revision == v2
    assert selected(release) == v1
    assert status.history[-1].outcome == "Failed"
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v2]


def test_abort_during_hold_rolls_back() -> None:
    release = holding()
    release.world.annotation = "abort"
    release.step()
    assert selected(release) == revision_of(make_spec(V1))
    assert release.status.phase == Phase.ROLLED_BACK


def test_rollback_during_hold() -> None:
    release = holding()
    v1 = revision_of(make_spec(V1))
    release.world.annotation = "rollback@1"
    release.step()
    assert selected(release) == v1
    assert release.status.phase == Phase.ROLLED_BACK
    assert is_stalled(release.status)
    assert release.status.last_action is not None
    assert release.status.last_action.action == "rollback"


def test_rollback_without_previous_is_rejected() -> None:
    release = released(V1)
    release.world.annotation = "rollback"
    release.step()
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Rejected")
    assert release.status.phase == Phase.COMPLETE
    assert is_ready(release.status)


def test_extend_hold_moves_delete_after() -> None:
    release = holding()
    assert release.status.previous is not None
    assert release.status.previous.delete_after == "2026-01-01T12:10:00Z"
    release.world.annotation = "extend-hold:300"
    release.step()
    assert release.status.previous.delete_after == "2026-01-01T12:15:00Z"
    release.advance(601)
    assert release.status.phase == Phase.HOLDING
    release.advance(300)
    assert release.status.phase == Phase.COMPLETE


@pytest.mark.parametrize("raw", ["explode", "extend-hold:soon", "promote-now"])
def test_unknown_action_is_rejected_and_cleared(raw: str) -> None:
    release = holding()
    before = release.status.previous
    release.world.annotation = raw
    release.step()
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Rejected")
    assert release.world.annotation is None
    assert release.status.previous == before
    assert release.status.phase == Phase.HOLDING


def test_same_annotation_is_not_applied_twice() -> None:
    release = holding()
    release.world.annotation = "extend-hold:300"
    release.step()
    extended = release.status.previous
    # The annotation comes back (a GitOps tool re-applies it, or the clear was lost).
    release.world.annotation = "extend-hold:300"
    release.step()
    assert release.status.previous == extended
    assert release.world.annotation is None
    assert len(release.actions_of(ClearActionAnnotation)) == 2
    # A nonce makes the same action a new request.
    release.world.annotation = "extend-hold:300@2"
    release.step()
    assert release.status.previous is not None and extended is not None
    assert release.status.previous.delete_after == "2026-01-01T12:20:00Z"


def test_human_action_survives_a_crash_before_the_status_write() -> None:
    release = holding()
    release.world.annotation = "extend-hold:300"
    result = release.step(crash_at=(0, 99))
    assert result.crashed
    release.step()
    assert release.status.previous is not None
    assert release.status.previous.delete_after == "2026-01-01T12:15:00Z"
    assert release.world.annotation is None


# ------------------------------------------------------------------ invalid spec


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s.update(replicas=0), "InvalidSpec"),
        (lambda s: s["template"]["spec"].update(containers=[]), "InvalidTemplate"),
        (lambda s: s["service"].update(type="Ingress"), "InvalidService"),
        (lambda s: s["service"].update(name="Shop_1"), "InvalidName"),
        (lambda s: s["checks"].update(smoke=[{"name": "x"}]), "InvalidCheck"),
        (lambda s: s["hold"].update(seconds=-1), "InvalidSpec"),
    ],
)
def test_invalid_spec_stalls_with_reason_and_no_actions(mutate: Any, reason: str) -> None:
    release = released(V1)
    spec = make_spec(V2)
    mutate(spec)
    release.spec = spec
    before = len(release.world.applied)
    result = release.step()
    status = release.status
    assert status.phase == Phase.FAILED
    assert is_stalled(status) and not is_ready(status)
    assert status.condition(ConditionType.STALLED).reason == reason  # type: ignore[union-attr]
    assert status.observed_generation == release.world.generation
    assert [type(a).__name__ for a in result.actions] == ["EmitEvent"]
    assert all(a.action.__class__.__name__ == "EmitEvent" for a in release.world.applied[before:])
    assert selected(release) == revision_of(make_spec(V1))
    assert condition(status, ConditionType.SERVING) == TRUE
    # The event is not repeated on every reconcile.
    assert release.step().actions == []
    release.spec = make_spec(V1)
    release.step()
    assert is_ready(release.status)


# ------------------------------------------------------------------ infrastructure


def test_infrastructure_failure_stalls_and_retries_after_back_off() -> None:
    release = Release(make_spec(V1))
    release.world.infra_failure = "provider exploded"
    release.step()
    status = release.status
    assert status.phase == Phase.FAILED
    assert is_stalled(status)
    assert condition(status, ConditionType.INFRASTRUCTURE_READY) == FALSE
    assert len(release.actions_of(ApplyInfrastructure)) == 1
    release.advance(59)
    assert len(release.actions_of(ApplyInfrastructure)) == 1
    release.world.infra_failure = None
    release.advance(1)
    assert len(release.actions_of(ApplyInfrastructure)) == 2
    assert release.status.phase == Phase.COMPLETE
    assert is_ready(release.status)


def test_infrastructure_failure_on_change_leaves_traffic_alone() -> None:
    release = released(V1)
    v1 = revision_of(release.spec)
    release.world.infra_failure = "quota"
    release.spec = make_spec(V2, variables={"annotations": {"a": "b"}})
    release.step()
    status = release.status
    assert is_stalled(status)
    assert condition(status, ConditionType.INFRASTRUCTURE_READY) == FALSE
    assert selected(release) == v1
    assert not release.actions_of(PatchSelector)[1:] or all(
        p.revision == v1 for p in release.actions_of(PatchSelector) if p.stable
    )
    assert status.active is not None and status.active.revision == v1
    release.world.infra_failure = None
    release.advance(61)
    assert selected(release) == revision_of(release.spec)
    assert is_ready(release.status)


def test_infrastructure_applied_once_per_input_change() -> None:
    release = released(V1, hold=60)
    assert len(release.actions_of(ApplyInfrastructure)) == 1
    release.spec = make_spec(V2, hold=60)
    release.step()
    release.advance(61)
    assert release.status.phase == Phase.COMPLETE
    assert len(release.actions_of(ApplyInfrastructure)) == 1
    release.spec = make_spec(V2, hold=60, variables={"x": 1})
    release.step()
    assert len(release.actions_of(ApplyInfrastructure)) == 2


# ------------------------------------------------------------------ kstatus


def test_conditions_are_stamped_and_move_only_on_flips() -> None:
    release = released(V1, hold=60)
    ready = release.status.condition(ConditionType.READY)
    assert ready is not None and ready.last_transition_time == "2026-01-01T12:00:00Z"
    release.advance(30)
    same = release.status.condition(ConditionType.READY)
    assert same is not None and same.last_transition_time == ready.last_transition_time
    release.spec = make_spec(V2, hold=60)
    release.advance(30)
    assert release.world.generation == 2
    for cond in release.status.conditions:
        assert cond.observed_generation == 2
    assert release.status.observed_generation == 2
    flipped = release.status.condition(ConditionType.READY)
    assert flipped is not None and flipped.status == FALSE
    assert flipped.last_transition_time == "2026-01-01T12:01:00Z"
    infra = release.status.condition(ConditionType.INFRASTRUCTURE_READY)
    assert infra is not None and infra.last_transition_time == "2026-01-01T12:00:00Z"


def test_job_left_by_a_lost_status_write_is_not_taken_for_a_new_attempt() -> None:
    """A crash loses the Job's status entry; the old Job must not pass a later attempt."""
    check = job_check("e2e")
    release = Release(make_spec(V1, smoke=[check]))
    v1 = revision_of(release.spec)
    # Crash right after the check Job was created (loop 2: the smoke checks start).
    assert release.step(crash_at=(2, 99)).crashed
    assert f"shop-{v1}-smoke-e2e-1" in release.world.jobs
    release.world.finish_jobs()  # the orphan passes, against the first pods
    release.spec = make_spec(V2, smoke=[check])
    release.step(max_loops=1)
    release.spec = make_spec(V1, smoke=[check])
    release.world.auto_jobs = False
    release.step()
    assert selected(release) is None  # the new attempt waits for its own Job
    jobs = [a.manifest["metadata"]["name"] for a in release.actions_of(CreateJob)]
    assert jobs[-1] == f"shop-{v1}-smoke-e2e-2"
    release.world.finish_jobs()
    release.step()
    assert selected(release) == v1


def test_spec_asking_again_for_a_revision_rolled_back_meanwhile_retries_it() -> None:
    """v3 is rolled back by a human while the spec already asks for v2; then Git goes to v3."""
    release = released(V1, hold=600)
    release.spec = make_spec(V3, hold=600)
    v3 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.HOLDING
    release.spec = make_spec(V2, hold=600)
    release.world.annotation = "abort"
    release.step()
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Rolled back")
    release.spec = make_spec(V3, hold=600)
    release.advance(1)
    release.advance(601)
    assert release.status.failed_revision == ""
    assert release.status.phase == Phase.COMPLETE, release.status.message
    assert selected(release) == v3
    assert is_ready(release.status)


def test_job_hold_check_failure_rolls_back() -> None:
    release = released(V1, hold=600, hold_checks=[job_check("soak")])
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, hold=600, hold_checks=[job_check("soak")])
    v2 = revision_of(release.spec)
    release.world.job_outcomes[("soak", v2)] = False
    release.step()
    assert release.status.phase == Phase.HOLDING
    jobs = [a.manifest["metadata"]["name"] for a in release.actions_of(CreateJob)]
    assert jobs[-1] == f"shop-{v2}-hold-soak-1"
    env = release.actions_of(CreateJob)[-1].manifest["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "BLUEGREEN_TARGET_URL", "value": "http://10.96.0.10:80/"} in env["env"]
    release.advance(1)
    assert selected(release) == v1
    assert release.status.phase == Phase.ROLLED_BACK
    assert "HoldCheckFailed" in release.reasons()


def test_serving_turns_false_when_active_pods_are_gone() -> None:
    release = released(V1)
    v1 = revision_of(release.spec)
    release.world.auto_ready = False
    release.world.set_ready(v1, 0)
    release.step()
    serving = release.status.condition(ConditionType.SERVING)
    assert serving is not None and serving.status == FALSE
    assert serving.reason == "NoHealthyEndpoints"
    # Nothing to do about it but wait: traffic stays where it is.
    assert selected(release) == v1


def test_deadlines_are_requeued() -> None:
    release = released(V1, readiness_timeout=120)
    release.world.auto_ready = False
    release.spec = make_spec(V2, readiness_timeout=120)
    result = release.step()
    assert result.last.requeue_after == pytest.approx(120)
    result = release.advance(20)
    assert result.last.requeue_after == pytest.approx(100)


def test_status_round_trips_through_storage() -> None:
    release = holding()
    stored = release.status
    assert ReleaseStatus.from_dict(stored.to_dict()) == stored
    assert stored.previous is not None and stored.active is not None


def test_candidate_deployment_recreated_runs_its_checks_again() -> None:
    release = released(V1, auto=False, smoke=[http_check("home")])
    release.spec = make_spec(V2, auto=False, smoke=[http_check("home")])
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    runs = len(release.actions_of(RunHttpCheck))
    del release.world.deployments[v2]  # deleted by hand (or by a step whose status was lost)
    release.world.annotation = "promote"
    release.step()
    assert selected(release) != v2
    release.step()  # the new Deployment's pods are ready
    assert len(release.actions_of(RunHttpCheck)) == runs + 1
    assert selected(release) == v2


def test_spec_revert_to_an_unready_previous_waits_without_looping() -> None:
    release = holding()
    v1 = revision_of(make_spec(V1))
    release.world.auto_ready = False
    release.world.set_ready(v1, 1)
    release.spec = make_spec(V1, hold=600, hold_checks=[http_check("live")])
    result = release.step()
    assert result.iterations < 5
    assert not result.last.continue_now and result.last.requeue_after is not None
    assert "RollbackWaiting" in release.reasons()
    assert selected(release) == revision_of(make_spec(V2))
    release.world.set_ready(v1)
    release.advance(10)
    assert selected(release) == v1
    assert is_ready(release.status)
