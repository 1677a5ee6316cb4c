"""The hold after a switch: the previous revision stays warm until ``deleteAfter``.

Hold checks guard the revision that serves meanwhile; a failure switches back
at once. When the hold ends the previous Deployment is collected.
"""

from __future__ import annotations

from bluegreen.api.enums import HookPoint
from bluegreen.core import checks as chk
from bluegreen.core.actions import DeleteDeployment
from bluegreen.core.decide import hook_lifecycle, hooks
from bluegreen.core.decide.checks import run_checks
from bluegreen.core.decide.rollback import rollback
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.status import Phase, Previous

_HOLD_CHECK_FAILED = "HoldCheckFailed"
"""The reason of the rollback a failed hold check causes."""


def _failed_check(draft: Draft, revision: str) -> str:
    """Why a rollback happens: the first failed hold check of ``revision``, by name."""
    for result in draft.status.checks:
        if result.stage == chk.HOLD and result.revision == revision and result.phase == chk.FAILED:
            return f"hold check {result.name} failed ({result.message})"
    return "a hold check failed"


def holding_message(previous: Previous) -> str:
    """The deadline, not a countdown: a message that changed with time would cost a
    status write on every wake-up of the hold."""
    return f"holding {previous.revision} until {previous.delete_after}"


def hold(view: ReleaseView, draft: Draft) -> bool:
    """Run hold checks until deleteAfter; roll back on a failure. True while holding."""
    previous = draft.status.previous
    assert previous is not None
    delete_after = view.time(previous.delete_after)
    if draft.status.phase == Phase.HOLDING:
        verdict = run_checks(view, draft, view.spec.hold.checks, chk.HOLD, view.desired)
        if verdict == chk.FAILED:
            rollback(view, draft, _HOLD_CHECK_FAILED, _failed_check(draft, view.desired))
            return True
        after: str = hooks.SUCCEEDED
        if not previous.draining:
            point = HookPoint.POST_SWITCH
            after = hooks.run_hooks(view, draft, point, view.desired, previous.revision)
        if view.now < delete_after:
            # The deadline, not a countdown: a message that changes with time would
            # cost a status write on every wake-up of the hold.
            draft.progress = (
                "Holding",
                f"holding {previous.revision} until {previous.delete_after}",
            )
            draft.wake_in(view.seconds_until(delete_after))
            return True
        if verdict != chk.PASSED:
            return True  # a last hold check is still running
        if after == hooks.RUNNING:
            return True  # postSwitch hooks keep the previous revision until they finish
    if view.now < delete_after:
        draft.wake_in(view.seconds_until(delete_after))
        return True
    forward = draft.status.phase == Phase.HOLDING and not previous.draining
    if not collect_previous(view, draft):
        return True
    if forward:
        # Contract: only after a hold that ended with the new revision serving.
        hook_lifecycle.begin_contract(view, draft, view.desired, previous.revision)
    return False


def hold_beside_candidate(view: ReleaseView, draft: Draft) -> bool:
    """The running hold goes on while a newer candidate is in flight (or infra fails).

    Its checks guard the revision that serves; a failure rolls back at once.
    True when this decision rolled back.
    """
    status = draft.status
    previous, active = status.previous, status.active
    if previous is None or previous.draining or active is None or not status.served:
        return False
    if active.revision == view.desired or not view.spec.hold.checks:
        return False
    if view.now >= view.time(previous.delete_after):
        return False
    verdict = run_checks(view, draft, view.spec.hold.checks, chk.HOLD, active.revision)
    if verdict != chk.FAILED:
        return False
    rollback(view, draft, _HOLD_CHECK_FAILED, _failed_check(draft, active.revision))
    return True


def collect_previous(view: ReleaseView, draft: Draft) -> bool:
    """Delete the previous Deployment once nothing can route to it. True when done."""
    previous = draft.status.previous
    assert previous is not None
    stable = view.observed.stable
    selector = stable.selector if stable else None
    still_routed = view.stable_endpoints(previous.revision) > 0
    if selector == view.selector(previous.revision) or still_routed:
        draft.wake_in(view.ctx.switch_confirm_requeue_seconds)
        return False
    live = view.observed.deployments.get(previous.revision)
    if live is not None:
        draft.act(
            DeleteDeployment(
                previous.deployment, previous.revision, live.uid, live.resource_version
            )
        )
    draft.event("PreviousDeleted", f"deleted {previous.deployment} after the hold")
    draft.set(previous=None)
    draft.continue_now = True
    return True
