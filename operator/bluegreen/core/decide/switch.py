"""Moving the stable Service to the candidate, and proving it from EndpointSlices."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.decide import record
from bluegreen.core.decide.cleanup import delete_unselected
from bluegreen.core.decide.hold import holding_message
from bluegreen.core.decide.rollback import rollback
from bluegreen.core.decide.selectors import patch_stable
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft, SwitchKind, SwitchRecord
from bluegreen.core.status import ActiveRevision, Phase, Previous, ReleaseStatus
from bluegreen.core.timefmt import format_time, parse_time


def switch(view: ReleaseView, draft: Draft, fully_ready: bool) -> None:
    """Move the stable Service to the candidate; refuse unless every replica is ready."""
    candidate = draft.status.preview
    assert candidate is not None
    if not fully_ready:
        draft.set(phase=Phase.VERIFYING, message="switch refused: candidate not ready")
        draft.progress = ("Verifying", "switch refused until every replica is ready")
        return
    stable = view.observed.stable
    if stable is None or not stable.usable:
        draft.progress = ("Provisioning", "stable Service missing")
        return
    old_active, old_previous = draft.status.active, draft.status.previous
    patch_stable(view, draft, view.desired, candidate.deployment)
    if old_previous is not None and old_previous.revision != view.desired:
        # A newer switch retires the older hold. Deleted only when nothing routes to
        # it any more; otherwise it is collected later as a stray.
        delete_unselected(view, draft, old_previous.revision, old_previous.deployment, guard=False)
    previous = None
    if old_active is not None:
        hold = max(float(view.spec.hold.seconds), view.ctx.drain_seconds)
        previous = Previous(
            revision=old_active.revision,
            deployment=old_active.deployment,
            image=old_active.image,
            delete_after=format_time(view.now + timedelta(seconds=hold)),
        )
    record.candidate_finished(view, draft, candidate, "Promoted")
    draft.set(
        active=ActiveRevision(
            revision=candidate.revision,
            deployment=candidate.deployment,
            image=candidate.image,
            replicas=candidate.replicas,
            ready_replicas=candidate.ready_replicas,
            switched_at=view.stamp,
            restarts=candidate.restarts,
        ),
        previous=previous,
        preview=None,
        phase=Phase.SWITCHING,
        served=True,
        message=f"switched {view.spec.service.name} to {candidate.revision}",
    )
    record.condition(
        view, draft, ConditionType.TRAFFIC_SWITCHED, FALSE, "Switching", "awaiting EndpointSlices"
    )
    draft.continue_now = True


def confirm_switch(view: ReleaseView, draft: Draft) -> bool:
    """After a selector patch, wait until EndpointSlices show only the new pods."""
    status = draft.status
    active = status.active
    if status.phase != Phase.SWITCHING or active is None:
        return False
    ready = view.stable_endpoints(active.revision)
    endpoints = view.observed.stable_endpoints
    others = sum(n for rev, n in endpoints.items() if rev != active.revision)
    unknown = view.observed.stable_unknown_endpoints
    if ready < max(active.replicas, 1) or others or unknown:
        waiting = (
            f"waiting for EndpointSlices: {ready}/{active.replicas} ready endpoints of "
            f"{active.revision}, {others + unknown} others"
        )
        if view.desired not in (active.revision, status.failed_revision):
            # A newer spec (a revert, a newer revision) is honoured while we wait:
            # the selector already moved, only its confirmation is pending.
            return False
        _wait_or_undo(view, draft, waiting)
        return True
    rolled_back = status.failed_revision == view.desired
    record.condition(
        view, draft, ConditionType.TRAFFIC_SWITCHED, TRUE, "Confirmed", f"serving {active.revision}"
    )
    draft.event(
        "RolledBack" if rolled_back else "TrafficSwitched",
        f"stable Service {view.spec.service.name} reaches only {active.revision} "
        f"({ready} endpoints)",
        warning=rolled_back,
    )
    if not rolled_back:
        draft.switches.append(
            SwitchRecord(SwitchKind.CONFIRMED, active.revision, "", _release_seconds(status))
        )
    _drain_from_now(view, draft)
    if rolled_back:
        draft.set(phase=Phase.ROLLED_BACK)
    elif draft.status.previous and not draft.status.previous.draining:
        draft.set(phase=Phase.HOLDING)
        # What the hold's first step will say anyway: one status write, not two.
        draft.progress = ("Holding", holding_message(draft.status.previous))
    else:
        draft.set(phase=Phase.COMPLETE)
    draft.continue_now = True
    return True


def _drain_from_now(view: ReleaseView, draft: Draft) -> None:
    """The revision traffic left keeps its pods for the drain from the confirmation on.

    kube-proxy applies EndpointSlices a moment after they change, and they may
    take longer than the drain to show a switch (an API server or etcd that just
    restarted): counted from the patch, the drain could end as the slices
    change, and the pods go while nodes still route to them.
    """
    previous = draft.status.previous
    if previous is None:
        return
    drained = view.now + timedelta(seconds=view.ctx.drain_seconds)
    if view.time(previous.delete_after) < drained:
        draft.set(previous=replace(previous, delete_after=format_time(drained)))


def _wait_or_undo(view: ReleaseView, draft: Draft, waiting: str) -> None:
    """Keep waiting for the switch to show in EndpointSlices, up to its deadline.

    Past it, a forward switch goes back to the held previous revision; otherwise
    the release stalls (SwitchTimeout) and keeps watching.
    """
    active = draft.status.active
    assert active is not None
    requeue = view.ctx.switch_confirm_requeue_seconds
    deadline = view.time(active.switched_at) + timedelta(seconds=view.ctx.switch_timeout_seconds)
    if view.now < deadline:
        # Without the counts, which change with every EndpointSlice update and would
        # each cost a status write; the timeout's message below carries them.
        draft.progress = ("Switching", f"waiting for EndpointSlices to show only {active.revision}")
        draft.wake_in(min(requeue, view.seconds_until(deadline)))
        return
    message = (
        f"the stable Service did not reach {active.revision} within "
        f"{view.ctx.switch_timeout_seconds:.0f}s ({waiting})"
    )
    previous = draft.status.previous
    if previous is not None and not previous.draining:
        rollback(view, draft, "SwitchTimeout", message)
        return
    draft.stalled = ("SwitchTimeout", message)
    draft.wake_in(requeue * 5)


def _release_seconds(status: ReleaseStatus) -> float | None:
    """From the candidate's creation (its history entry) to the selector switch."""
    active = status.active
    if active is None or not status.history:
        return None
    started = parse_time(status.history[-1].started_at)
    switched = parse_time(active.switched_at)
    if started is None or switched is None:
        return None
    return (switched - started).total_seconds()
