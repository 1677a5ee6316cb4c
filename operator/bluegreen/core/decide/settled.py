"""The desired revision already serves, or has failed: keep it so, or report why."""

from __future__ import annotations

from dataclasses import replace

from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.decide import hook_lifecycle, record
from bluegreen.core.decide.candidate import (
    FAILURE_CONDITIONS,
    drop_failed_candidate,
    drop_superseded_candidate,
)
from bluegreen.core.decide.cleanup import delete_strays
from bluegreen.core.decide.hold import collect_previous, hold, hold_beside_candidate
from bluegreen.core.decide.provisioning import APPLYING_MESSAGE
from bluegreen.core.decide.selectors import stable_reaches
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.status import Phase, ReleaseStatus

STANDING_STALLS = frozenset(
    {"ServiceNotOwned", "DeploymentNotOwned", "InfrastructureFailed", "SelectorDiverged"}
)
"""Stalls on the state of the world, not on a revision: they end when the world changes."""


def desired_is_active(view: ReleaseView, draft: Draft) -> None:
    """Keep the serving revision served; hold, then collect what it replaced."""
    active = draft.status.active
    assert active is not None
    drop_superseded_candidate(view, draft)
    live = view.observed.deployments.get(active.revision)
    if live is not None and live.template_changed:
        record.stall_once(
            draft,
            "DeploymentModified",
            f"the pod template of {live.name} was changed outside the release; its pods "
            "are not the ones that were checked: apply a new revision to replace them",
        )
    if not stable_reaches(view, active.revision):
        # Complete and Ready only while the stable Service reaches the active
        # revision: go back to Switching, which restores and proves it (or times out).
        draft.set(
            phase=Phase.SWITCHING,
            active=replace(active, switched_at=view.stamp),
            message=f"stable Service {view.spec.service.name} does not reach "
            f"{active.revision}; restoring",
        )
        record.condition(
            view, draft, ConditionType.TRAFFIC_SWITCHED, FALSE, "Restoring", draft.status.message
        )
        draft.continue_now = True
        return
    record.condition(
        view, draft, ConditionType.TRAFFIC_SWITCHED, TRUE, "Confirmed", f"serving {active.revision}"
    )
    # Revisions no block accounts for (a retired hold still reached at its switch, a
    # crash) go as soon as nothing routes to them, also during a hold.
    delete_strays(view, draft)
    if draft.status.previous and hold(view, draft):
        hook_lifecycle.record_degraded(view, draft, active.revision)
        return
    # Also after a rollback: the spec now asks for the revision that serves.
    draft.set(phase=Phase.COMPLETE, message=f"revision {active.revision} serves")
    delete_strays(view, draft)
    hook_lifecycle.continue_contract(view, draft, active.revision)
    hook_lifecycle.record_degraded(view, draft, active.revision)


def desired_has_failed(view: ReleaseView, draft: Draft) -> None:
    """Nothing runs for a failed revision; what serves goes on until a new spec."""
    drop_failed_candidate(view, draft)
    if hold_beside_candidate(view, draft):
        return  # the hold of what serves goes on after a newer candidate failed
    # The failed revision's pods go once nothing routes to them.
    delete_strays(view, draft, records_of=view.desired)
    previous = draft.status.previous
    if previous:
        delete_after = view.time(previous.delete_after)
        if view.now >= delete_after:
            collect_previous(view, draft)
        else:
            draft.wake_in(view.seconds_until(delete_after))
    if draft.status.phase not in (Phase.FAILED, Phase.ROLLED_BACK):
        draft.set(phase=Phase.FAILED)
    reason, message = _failure_cause(view.desired, draft.status)
    draft.set(message=message)
    draft.stalled = (reason, message)


def _failure_cause(desired: str, status: ReleaseStatus) -> tuple[str, str]:
    """Why the desired revision failed, as reported when it failed.

    ``status.message`` may since describe something else: a stall on the world
    that has ended (a foreign Service the spec named for a while) or an
    infrastructure apply. The cause survives in the conditions the failure set.
    """
    stalled = status.condition(ConditionType.STALLED)
    message_is_cause = bool(status.message) and status.message != APPLYING_MESSAGE
    if stalled is not None and stalled.status == TRUE and stalled.message == status.message:
        if stalled.reason in STANDING_STALLS:
            message_is_cause = False
        elif status.phase == Phase.FAILED:
            return stalled.reason, stalled.message
    if status.phase == Phase.ROLLED_BACK:
        rolled_back = f"revision {desired} was rolled back"
        return "RolledBack", status.message if message_is_cause else rolled_back
    for kind, reason in FAILURE_CONDITIONS:
        cond = status.condition(kind)
        if cond is not None and cond.status == FALSE and cond.reason == reason:
            return reason, cond.message
    failed = f"revision {desired} failed"
    return "ReleaseFailed", status.message if message_is_cause else failed
