"""decide() in a shared namespace, and the recovery paths of every phase.

Foreign objects named by a spec, hand edits of what the operator created, a
spec that changes while a switch or a hold is under way, infrastructure that
fails during a hold: each scenario runs through the fake world, whose
invariant checks (``world.violations``) must stay empty.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.core import names
from bluegreen.core.actions import (
    ApplyInfrastructure,
    CreateDeployment,
    DeleteDeployment,
    DeleteJob,
    PatchSelector,
    ScaleDeployment,
)
from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.decide import decide
from bluegreen.core.errors import SpecError
from bluegreen.core.spec import parse_spec
from bluegreen.core.status import Phase

from .world import (
    FakeService,
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


@pytest.fixture(autouse=True)
def _no_violations() -> Any:
    worlds: list[World] = []
    original = World.__init__

    def tracking(self: World, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        worlds.append(self)

    World.__init__ = tracking  # type: ignore[method-assign]
    yield
    World.__init__ = original  # type: ignore[method-assign]
    for world in worlds:
        assert world.violations == []


def released(image: str = V1, **spec: Any) -> Release:
    release = Release(make_spec(image, **spec))
    release.step()
    release.step()
    assert release.status.phase == Phase.COMPLETE, release.status.message
    return release


def holding(**extra: Any) -> Release:
    spec: dict[str, Any] = {"hold": 600, "hold_checks": [http_check("live")], **extra}
    release = released(V1, **spec)
    release.spec = make_spec(V2, **spec)
    release.step()
    assert release.status.phase == Phase.HOLDING
    return release


def selected(release: Release) -> str | None:
    return release.world.stable_revision()


def stalled_reason(release: Release) -> str:
    cond = release.status.condition(ConditionType.STALLED)
    assert cond is not None and cond.status == TRUE, release.status.conditions
    return cond.reason


# -- ownership ------------------------------------------------------------------


def test_foreign_stable_service_stalls_the_first_release_and_is_never_written() -> None:
    release = Release(make_spec(V1))
    release.world.services["shop"] = FakeService("shop", "10.96.0.99", 80, owner=None)
    release.step()
    assert stalled_reason(release) == "ServiceNotOwned"
    assert "annotate it bluegreen.dev/adopt=shop" in release.status.message
    assert not release.actions_of(ApplyInfrastructure)
    assert not release.actions_of(PatchSelector)
    assert not release.actions_of(CreateDeployment)
    assert release.world.services["shop"].selector is None


def test_renaming_the_service_to_another_releases_service_leaves_it_alone() -> None:
    release = released(V1)
    live = selected(release)
    # Another release owns "other" in the same namespace.
    release.world.services["other"] = FakeService("other", "10.96.0.50", 80, owner="other")
    spec = make_spec(V1)
    spec["service"]["name"] = "other"
    release.spec = spec
    release.step()
    assert stalled_reason(release) == "ServiceNotOwned"
    assert release.world.services["other"].selector is None
    assert release.world.services["shop"].selector == names.revision_selector("shop", live or "")
    assert not is_ready(release.status)


def test_adopt_annotation_hands_a_foreign_service_over() -> None:
    release = Release(make_spec(V1))
    release.world.services["shop"] = FakeService("shop", "10.96.0.10", 80, owner=None, adopt="shop")
    release.step()
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert release.world.services["shop"].owner == "shop"
    assert is_ready(release.status)


def test_adopt_annotation_for_another_release_does_not_count() -> None:
    release = Release(make_spec(V1))
    release.world.services["shop"] = FakeService("shop", "10.96.0.10", 80, owner=None, adopt="x")
    release.step()
    assert stalled_reason(release) == "ServiceNotOwned"


def test_a_foreign_deployment_holding_the_candidates_name_stalls_the_release() -> None:
    release = released(V1)
    release.spec = make_spec(V2)
    v2 = revision_of(release.spec)
    release.world.foreign_deployments.add(names.deployment_name("shop", v2))
    release.step()
    assert stalled_reason(release) == "DeploymentNotOwned"
    assert not [c for c in release.actions_of(CreateDeployment) if v2 in str(c.manifest)]


def test_reserved_template_labels_are_refused() -> None:
    spec = make_spec(V1)
    spec["template"]["metadata"]["labels"]["bluegreen.dev/revision"] = "fake"
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    assert refused.value.reason == "InvalidTemplate"
    spec = make_spec(V1)
    spec["template"]["metadata"]["labels"][names.MANAGED_BY_LABEL] = "me"
    with pytest.raises(SpecError):
        parse_spec(spec)


def test_another_service_selecting_the_pods_raises_a_warning_condition() -> None:
    release = released(V1)
    assert condition(release.status, ConditionType.ISOLATED) == TRUE
    release.world.exposing_services.append("catch-all")
    release.step()
    assert condition(release.status, ConditionType.ISOLATED) == FALSE
    assert "SelectedByOtherService" in release.reasons()
    assert "catch-all" in (release.status.condition(ConditionType.ISOLATED) or ()).message


# -- honest state ---------------------------------------------------------------


def test_ready_only_while_the_stable_service_reaches_the_active_revision() -> None:
    release = released(V1)
    assert is_ready(release.status)
    del release.world.services["shop"]
    world, status = release.world, release.status
    decision = decide(world.ctx(), release.spec, status, world.observe(), release.now)
    ready = decision.status.condition(ConditionType.READY)
    assert ready is not None and ready.status == FALSE
    assert decision.status.phase == Phase.PROVISIONING
    # The operator re-creates it and proves the switch again.
    release.step()
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert is_ready(release.status)


def test_ready_false_while_the_active_pods_are_not_reached() -> None:
    release = released(V1)
    v1 = revision_of(release.spec)
    release.world.auto_ready = False
    release.world.set_ready(v1, 0)
    release.step()
    assert not is_ready(release.status)
    assert release.status.phase == Phase.SWITCHING
    release.world.set_ready(v1)
    release.advance(2)
    assert release.status.phase == Phase.COMPLETE and is_ready(release.status)


def test_a_candidate_edited_by_hand_is_recreated_and_checked_again() -> None:
    release = released(V1, smoke=[http_check("home")])
    release.spec = make_spec(V2, smoke=[http_check("home")], auto=False)
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.AWAITING_PROMOTION
    release.world.deployments[v2].template_changed = True
    release.step()
    assert "CandidateModified" in release.reasons()
    assert any(d.revision == v2 for d in release.actions_of(DeleteDeployment))
    assert selected(release) != v2
    release.step()  # the old one is gone: created afresh ...
    release.step()  # ... and once available, its smoke checks run again
    assert release.world.deployments[v2].template_changed is False
    runs = [c for c in release.status.checks if c.revision == v2 and c.stage == "smoke"]
    assert runs and runs[-1].phase == "Passed" and runs[-1].run >= 1
    assert release.status.phase == Phase.AWAITING_PROMOTION


def test_an_active_deployment_edited_by_hand_is_reported() -> None:
    release = released(V1)
    release.world.deployments[revision_of(release.spec)].template_changed = True
    release.step()
    assert stalled_reason(release) == "DeploymentModified"
    assert not is_ready(release.status)


# -- recovery in every phase -----------------------------------------------------


def test_a_newer_spec_is_honoured_while_a_switch_awaits_confirmation() -> None:
    release = released(V1, hold=600)
    release.spec = make_spec(V2, hold=600)
    release.world.endpoints_lag = True
    release.step()
    assert release.status.phase == Phase.SWITCHING
    release.spec = make_spec(V3, hold=600)
    v3 = revision_of(release.spec)
    release.advance(1)
    # v3 was deployed, proven and switched to without waiting for v2's confirmation.
    assert selected(release) == v3
    release.world.endpoints_lag = False
    release.advance(1)
    assert release.status.phase in (Phase.HOLDING, Phase.COMPLETE)
    assert release.status.active is not None and release.status.active.revision == v3


def test_a_revert_is_honoured_while_a_switch_awaits_confirmation() -> None:
    release = released(V1, hold=600)
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, hold=600)
    release.world.endpoints_lag = True
    release.step()
    release.spec = make_spec(V1, hold=600)
    release.advance(1)
    assert selected(release) == v1


def test_replicas_change_reaches_the_active_deployment_during_the_hold() -> None:
    release = holding()
    v2 = revision_of(release.spec)
    release.spec = make_spec(V2, hold=600, hold_checks=[http_check("live")], replicas=5)
    release.step()
    assert release.world.deployments[v2].replicas == 5
    assert release.status.phase == Phase.HOLDING
    assert any(s.replicas == 5 for s in release.actions_of(ScaleDeployment))


def test_hold_checks_keep_running_while_a_newer_candidate_is_in_flight() -> None:
    release = holding(hold_interval=30, readiness_timeout=3600)
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    # v3 never gets ready: it stays in flight.
    release.spec = make_spec(
        V3, hold=600, hold_checks=[http_check("live")], hold_interval=30, readiness_timeout=3600
    )
    v3 = revision_of(release.spec)
    release.world.ready_cap[v3] = 0
    release.step()
    assert release.status.preview is not None and release.status.preview.revision == v3
    release.world.http_outcomes[("live", v2)] = False
    release.advance(30)
    assert selected(release) == v1
    assert "RollbackStarted" in release.reasons()


def test_hold_checks_and_rollback_go_on_while_the_infrastructure_fails() -> None:
    release = holding(hold_interval=30)
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.world.infra_failure = "provider unreachable"
    release.spec = make_spec(
        V2, hold=600, hold_checks=[http_check("live")], hold_interval=30, variables={"x": "1"}
    )
    release.step()
    assert is_stalled(release.status)
    release.world.http_outcomes[("live", v2)] = False
    release.advance(30)
    assert selected(release) == v1


def test_a_superseded_hold_is_deleted_only_once_endpoints_leave_it() -> None:
    release = holding()
    v1 = revision_of(make_spec(V1))
    release.spec = make_spec(V3, hold=600, hold_checks=[http_check("live")])
    release.world.endpoints_lag = True
    # The stale EndpointSlices still list v1 (e.g. right after a rollback).
    release.world._endpoints = {v1: 3}  # the lagging slices
    release.step()
    assert not [d for d in release.actions_of(DeleteDeployment) if d.revision == v1]
    release.world.endpoints_lag = False
    for _ in range(3):
        release.advance(1)
    assert [d for d in release.actions_of(DeleteDeployment) if d.revision == v1]


def test_hold_job_checks_leave_at_most_two_finished_jobs() -> None:
    spec: dict[str, Any] = {"hold": 600, "hold_checks": [job_check("e2e")], "hold_interval": 30}
    release = released(V1, **spec)
    release.spec = make_spec(V2, **spec)
    release.step()
    for _ in range(12):
        release.advance(31)
        release.step()
    v2 = revision_of(release.spec)
    finished = [j for j in release.world.jobs.values() if j.revision == v2 and j.stage == "hold"]
    assert len(finished) <= 2
    assert release.actions_of(DeleteJob)


def test_hold_checks_keep_guarding_after_a_newer_candidate_failed() -> None:
    release = holding(hold_interval=30)
    v1, v2 = revision_of(make_spec(V1)), revision_of(release.spec)
    release.spec = make_spec(
        V3, hold=600, hold_checks=[http_check("live")], hold_interval=30, readiness_timeout=10
    )
    release.world.ready_cap[revision_of(release.spec)] = 0
    release.step()
    release.advance(11)
    assert release.status.failed_revision == revision_of(release.spec)
    release.world.http_outcomes[("live", v2)] = False
    release.advance(30)
    assert selected(release) == v1
