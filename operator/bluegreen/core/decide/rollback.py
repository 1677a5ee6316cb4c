"""Switching back to the held previous revision: asked by a human, a check or the spec."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bluegreen.core.actions import ScaleDeployment
from bluegreen.core.conditions import FALSE, ConditionType
from bluegreen.core.decide import record
from bluegreen.core.decide.action_result import ActionOutcome, ActionResult, recorded_outcome
from bluegreen.core.decide.selectors import patch_stable
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft, SwitchKind, SwitchRecord
from bluegreen.core.observed import DeploymentState
from bluegreen.core.status import ActiveRevision, Phase, Previous
from bluegreen.core.timefmt import format_time

HUMAN_ROLLBACK = ("ManualRollback", "rolled back by a human")
"""(reason, why) of a rollback a human asked for, when first asked and when retried."""


def rollback(view: ReleaseView, draft: Draft, reason: str, why: str) -> ActionResult:
    """Switch the stable Service back to the held previous revision."""
    previous, active = draft.status.previous, draft.status.active
    if previous is None or active is None or previous.draining:
        return ActionResult.rejected("no previous revision is held")
    kept = view.observed.deployments.get(previous.revision)
    if kept is None or kept.deleting or kept.template_changed:
        why_not = (
            "its Deployment is gone"
            if kept is None or kept.deleting
            else "its pod template was changed outside the release"
        )
        message = f"rollback to {previous.revision} blocked: {why_not}"
        record.stall_once(draft, "RollbackBlocked", message)
        return ActionResult.rejected(message)
    stable = view.observed.stable
    if stable is None or not stable.usable:
        # Renamed or deleted: the infrastructure step creates it first; a patch now
        # would hit a missing Service. Retried (retry_rollback) once it exists.
        message = (
            f"{reason}: rolling back to {previous.revision} once the stable Service "
            f"{view.spec.service.name} exists"
        )
        draft.progress = ("RollbackWaiting", message)
        return ActionResult.pending(message)
    # Traffic goes back only to as many ready pods as serve it now.
    needed = max(active.replicas, 1)
    if not kept.fully_ready or kept.ready_replicas < needed:
        return _await_rollback(view, draft, previous.revision, kept, needed, reason)
    patch_stable(view, draft, previous.revision, previous.deployment)
    message = f"{why}: switched back from {active.revision} to {previous.revision}"
    draft.event("RollbackStarted", message, warning=True)
    draft.switches.append(SwitchRecord(SwitchKind.ROLLBACK, previous.revision, reason))
    history = tuple(
        replace(h, finished_at=view.stamp, outcome="RolledBack")
        if h.revision == active.revision and h.outcome == "Promoted"
        else h
        for h in draft.status.history
    )
    draft.set(
        active=ActiveRevision(
            revision=previous.revision,
            deployment=previous.deployment,
            image=previous.image,
            replicas=kept.replicas,
            ready_replicas=kept.ready_replicas,
            switched_at=view.stamp,
            restarts=kept.restarts,
        ),
        # The bad revision stays only until connections through it have drained.
        previous=Previous(
            revision=active.revision,
            deployment=active.deployment,
            image=active.image,
            delete_after=format_time(view.now + timedelta(seconds=view.ctx.drain_seconds)),
            draining=True,
        ),
        failed_revision=active.revision,
        phase=Phase.SWITCHING,
        message=message,
        history=history,
    )
    record.condition(view, draft, ConditionType.TRAFFIC_SWITCHED, FALSE, reason, message)
    draft.continue_now = True
    return ActionResult.applied(f"Rolled back to {previous.revision}")


def _await_rollback(
    view: ReleaseView,
    draft: Draft,
    revision: str,
    kept: DeploymentState,
    needed: int,
    reason: str,
) -> ActionResult:
    """The previous revision can't take traffic yet: scale it up and switch when ready.

    Nothing moves until every replica is ready (the switch invariant); the
    Deployment's watch wakes the release as its pods come up.
    """
    needed = max(needed, kept.replicas)
    if kept.replicas < needed:
        draft.act(ScaleDeployment(kept.name, needed))
    message = (
        f"{reason}: rolling back to {revision} as soon as it is ready "
        f"({kept.ready_replicas}/{needed} replicas ready)"
    )
    if draft.status.message != message:
        draft.event("RollbackWaiting", message, warning=True)
    draft.set(message=message)
    draft.progress = ("RollbackWaiting", message)
    draft.wake_in(view.ctx.switch_confirm_requeue_seconds * 5)
    return ActionResult.pending(message)


def revert_by_spec(view: ReleaseView, draft: Draft) -> bool:
    """The spec went back to the held previous revision: switch back at once."""
    previous, active = draft.status.previous, draft.status.active
    if not previous or not active or previous.revision != view.desired:
        return False
    if previous.draining or previous.revision == draft.status.failed_revision:
        return False  # a rolled-back revision waiting for collection, not a revert
    if active.revision == view.desired:
        return False
    kept = view.observed.deployments.get(previous.revision)
    if kept is None or kept.deleting:
        # Nothing left to switch back to (deleted by hand, or by a switch whose status
        # write was lost): the revision is deployed and checked afresh instead.
        draft.set(previous=None)
        draft.event(
            "PreviousGone",
            f"{previous.deployment} is gone; revision {previous.revision} is deployed again",
            warning=True,
        )
        return False
    result = rollback(view, draft, "SpecReverted", "the spec returned to the previous revision")
    # A revert is what the spec asks for, not a failure: nothing is retried, and the
    # abandoned revision only drains before it is deleted.
    draft.set(failed_revision="")
    if result.outcome is ActionOutcome.REJECTED:
        # rollback cannot move traffic: wait for a human (or the Deployment's
        # watch) instead of looping on the same refusal.
        draft.stalled = ("RollbackBlocked", result.text)
        draft.wake_in(view.ctx.switch_confirm_requeue_seconds * 5)
    return True


def retry_rollback(view: ReleaseView, draft: Draft) -> bool:
    """A human's rollback that waited (for the previous revision's pods), retried."""
    last = draft.status.last_action
    previous = draft.status.previous
    if last is None or recorded_outcome(last.result) is not ActionOutcome.PENDING:
        return False
    if previous is None or previous.draining or last.action not in ("rollback", "abort"):
        settled = ActionResult.applied("Rolled back or superseded")
        draft.set(last_action=replace(last, result=settled.text))
        return False
    result = rollback(view, draft, *HUMAN_ROLLBACK)
    if result.text != last.result:
        draft.set(last_action=replace(last, result=result.text))
    return True
