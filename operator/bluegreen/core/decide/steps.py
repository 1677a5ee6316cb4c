"""The order of the steps of one decision about a release whose spec parsed.

Each step reads the view and the draft status as the steps before it left it;
a step that completes this decision (its actions must run and be observed
before anything else is decided) makes the later ones wait for the next call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bluegreen.core.actions import ScaleDeployment
from bluegreen.core.decide.candidate import release_candidate
from bluegreen.core.decide.crashes import roll_back_restarting
from bluegreen.core.decide.guards import foreign_object_named, report_exposure
from bluegreen.core.decide.hold import hold, hold_beside_candidate
from bluegreen.core.decide.human import human_action
from bluegreen.core.decide.provisioning import InfrastructureState, provision
from bluegreen.core.decide.rollback import retry_rollback, revert_by_spec
from bluegreen.core.decide.selectors import restore_selector
from bluegreen.core.decide.settled import desired_has_failed, desired_is_active
from bluegreen.core.decide.switch import confirm_switch
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.observed import DeploymentState
from bluegreen.core.status import Phase


def run(view: ReleaseView, draft: Draft) -> None:
    """Every step of one decision, in order, into ``draft``."""
    _track_desired_revision(view, draft)
    report_exposure(view, draft)
    if foreign_object_named(view, draft):
        return
    _advance(view, draft)
    # Last, so it sees whether an earlier step already moved the stable Service.
    restore_selector(view, draft)


def _advance(view: ReleaseView, draft: Draft) -> None:
    if human_action(view, draft):
        return
    infrastructure = provision(view, draft)
    if infrastructure is InfrastructureState.APPLYING:
        return
    _sync_replicas(view, draft)
    if roll_back_restarting(view, draft):
        return
    if confirm_switch(view, draft) or revert_by_spec(view, draft) or retry_rollback(view, draft):
        return
    active = draft.status.active
    if infrastructure is InfrastructureState.FAILING:
        # No new candidate on broken infrastructure, but the running hold goes on:
        # its checks still guard the switch that happened, and may roll it back.
        if active and active.revision == view.desired and draft.status.previous:
            if draft.status.phase == Phase.HOLDING:
                hold(view, draft)
        else:
            hold_beside_candidate(view, draft)
        return
    if active and active.revision == view.desired:
        desired_is_active(view, draft)
    elif draft.status.failed_revision == view.desired:
        desired_has_failed(view, draft)
    elif not hold_beside_candidate(view, draft):
        release_candidate(view, draft)


def _track_desired_revision(view: ReleaseView, draft: Draft) -> None:
    """A new spec revision clears stale approvals and failures of older ones."""
    status = draft.status
    if status.revision == view.desired:
        return
    changes: dict[str, Any] = {"revision": view.desired}
    if status.approved_revision not in ("", view.desired):
        changes["approved_revision"] = ""
    if status.failed_revision:
        # Also when the spec moves (back) to the revision that failed: the failure
        # happened while another revision was asked for (a rollback of the active
        # one), and asking for it now is a new request.
        changes["failed_revision"] = ""
    draft.set(**changes)


def _sync_replicas(view: ReleaseView, draft: Draft) -> None:
    """``spec.replicas`` reaches the serving and the candidate Deployments at once."""
    wanted = view.spec.replicas
    active, candidate = draft.status.active, draft.status.preview
    if active is not None and (live := _off_count(view, active.revision)):
        draft.act(ScaleDeployment(live.name, wanted))
        draft.set(active=replace(active, replicas=wanted))
    # A superseded candidate is about to go: only the desired one is scaled.
    if candidate is None or candidate.revision != view.desired:
        return
    if live := _off_count(view, candidate.revision):
        draft.act(ScaleDeployment(live.name, wanted))
        draft.set(preview=replace(candidate, replicas=wanted, ready_at=""))


def _off_count(view: ReleaseView, revision: str) -> DeploymentState | None:
    """The revision's live Deployment when its replicas differ from ``spec.replicas``."""
    live = view.observed.deployments.get(revision)
    if live is None or live.deleting or live.replicas == view.spec.replicas:
        return None
    return live
