"""Containers that restart after their revision became available: a crash loop.

Between two crashes every pod may look ready, so readiness alone would switch
to such a revision, or keep serving it. Restarts since it became available
fail a candidate before the switch and roll a served one back while the
previous revision is still held; restarts before it became available (a slow
dependency) and after the hold are not the release's business.
"""

from __future__ import annotations

from bluegreen.core.actions import DeleteDeployment, PatchSelector
from bluegreen.core.conditions import FALSE, ConditionType
from bluegreen.core.status import Phase

from .test_transitions import V1, V2, holding, released, selected
from .world import Release, condition, http_check, is_stalled, make_spec, revision_of

RESTARTING = "ContainersRestarting"


def test_a_candidate_restarting_after_it_became_available_is_never_switched_to() -> None:
    release = released(V1)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, auto=False)
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    assert release.status.preview is not None and release.status.preview.ready_at
    release.world.deployments[v2].restarts = 1  # crashed, and ready again already
    release.step()
    status = release.status
    assert status.phase == Phase.FAILED
    assert status.failed_revision == v2
    assert is_stalled(status)
    assert condition(status, ConditionType.CANDIDATE_READY) == FALSE
    assert status.condition(ConditionType.CANDIDATE_READY).reason == RESTARTING  # type: ignore[union-attr]
    assert RESTARTING in release.reasons()
    assert selected(release) == v1
    assert not [a for a in release.actions_of(PatchSelector) if a.stable and a.revision == v2]
    assert [d.revision for d in release.actions_of(DeleteDeployment)] == [v2]


def test_restarts_before_it_became_available_do_not_count() -> None:
    release = released(V1)
    release.world.auto_ready = False
    release.spec = make_spec(V2)
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.DEPLOYING
    release.world.deployments[v2].restarts = 3  # waited for a dependency, crashed meanwhile
    release.world.auto_ready = True
    release.step()
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert selected(release) == v2
    assert release.status.active is not None and release.status.active.restarts == 3


def test_a_served_revision_restarting_in_its_hold_goes_back_at_once() -> None:
    release = holding(hold_interval=600)
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.world.deployments[v2].restarts = 2
    release.advance(1)  # long before the next hold check
    status = release.status
    assert selected(release) == v1
    assert status.phase == Phase.ROLLED_BACK
    assert status.failed_revision == v2
    assert status.active is not None and status.active.revision == v1
    assert "RollbackStarted" in release.reasons()
    stalled = status.condition(ConditionType.STALLED)
    assert stalled is not None and "2 container restarts" in stalled.message
    rollbacks = [s for r in release.steps for d in r.decisions for s in d.switches]
    assert [s.reason for s in rollbacks if s.reason] == [RESTARTING]


def test_a_switch_still_being_confirmed_goes_back_too() -> None:
    release = released(V1, hold=600)
    v1 = revision_of(release.spec)
    release.world.endpoints_lag = True
    release.spec = make_spec(V2, hold=600)
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.SWITCHING
    release.world.deployments[v2].restarts = 1
    release.world.endpoints_lag = False
    release.advance(1)
    assert selected(release) == v1
    assert release.status.failed_revision == v2


def test_restarts_after_the_hold_are_left_to_the_deployment() -> None:
    release = released(V1)
    release.spec = make_spec(V2, hold_checks=[http_check("live")])
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.COMPLETE
    release.world.deployments[v2].restarts = 5
    release.advance(60)
    assert release.status.phase == Phase.COMPLETE
    assert selected(release) == v2


def test_a_restart_baseline_survives_the_status_round_trip() -> None:
    release = Release(make_spec(V1))
    release.world.auto_ready = False
    release.step()
    v1 = revision_of(release.spec)
    release.world.deployments[v1].restarts = 4
    release.world.auto_ready = True
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert release.status.active is not None and release.status.active.restarts == 4
    assert release.status.to_dict()["active"]["restarts"] == 4
