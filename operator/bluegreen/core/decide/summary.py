"""Ready, Reconciling, Stalled and Serving, derived together so they never disagree.

The steps leave what they found in the draft (stalled, progress, phase); the
kstatus conditions GitOps tools read are derived from that here, in one place,
after every step has run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bluegreen.core import names
from bluegreen.core.conditions import FALSE, TRUE, ConditionType, set_condition
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decision import Decision, Draft
from bluegreen.core.observed import Observed
from bluegreen.core.status import IN_FLIGHT_PHASES, Condition, Phase, ReleaseStatus
from bluegreen.core.timefmt import format_time


def summarize(
    ctx: ReleaseContext,
    draft: Draft,
    observed: Observed,
    now: datetime,
    original: ReleaseStatus,
    spec_parsed: bool,
) -> Decision:
    """The summary conditions set on the draft, and the Decision it amounts to.

    ``original`` is the status as stored: a condition keeps its
    lastTransitionTime unless it differs from there.
    """
    stamp = format_time(now)
    status = draft.status
    conds = status.conditions

    def put(kind: str, value: str, reason: str, message: str) -> None:
        nonlocal conds
        conds = set_condition(conds, kind, value, reason, message, ctx.generation, stamp)

    if draft.stalled:
        reason, message = draft.stalled
        put(ConditionType.STALLED, TRUE, reason, message)
        put(ConditionType.RECONCILING, FALSE, reason, "needs a human: " + message)
        put(ConditionType.READY, FALSE, reason, message)
    else:
        put(ConditionType.STALLED, FALSE, "Progressing", "")
        # A release that just completed (the held revision collected) is settled even if
        # the loop looks once more: saying so now saves a second status write.
        settling = draft.continue_now and status.phase != Phase.COMPLETE
        if status.phase in IN_FLIGHT_PHASES or settling:
            reason, message = draft.progress or (status.phase, status.message)
            put(ConditionType.RECONCILING, TRUE, reason, message)
            put(ConditionType.READY, FALSE, reason, message)
        else:
            put(ConditionType.RECONCILING, FALSE, "Succeeded", status.message)
            put(ConditionType.READY, *_readiness(ctx, status, observed))
    infra = status.infrastructure
    if spec_parsed and infra.applied and not infra.failed_inputs_hash:
        put(ConditionType.INFRASTRUCTURE_READY, TRUE, "Applied", "infrastructure applied")
    active = status.active
    if active is not None and observed.stable_endpoints.get(active.revision, 0) > 0:
        put(ConditionType.SERVING, TRUE, "Serving", f"stable Service reaches {active.revision}")
    else:
        unserved = "NoHealthyEndpoints" if status.served else "NotServedYet"
        put(ConditionType.SERVING, FALSE, unserved, "")
    draft.set(conditions=_as_stored(conds, original, ctx.generation))
    draft.set(selector=_pod_selector(ctx, draft.status))
    return Decision(
        status=draft.status,
        actions=tuple(draft.actions),
        requeue_after=draft.requeue_after,
        continue_now=draft.continue_now,
        switches=tuple(draft.switches),
    )


def _pod_selector(ctx: ReleaseContext, status: ReleaseStatus) -> str:
    """The active revision's pods as a label selector string (the scale subresource's)."""
    if status.active is None:
        return ""
    selector = names.revision_selector(ctx.name, status.active.revision)
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))


def _readiness(
    ctx: ReleaseContext, status: ReleaseStatus, observed: Observed
) -> tuple[str, str, str]:
    """(status, reason, message) of Ready for a release with nothing in flight."""
    if status.phase != Phase.COMPLETE:
        return FALSE, status.phase, status.message
    unreached = _why_not_reached(ctx, status, observed)
    if unreached:
        return FALSE, *unreached
    desired_live = bool(status.active and status.active.revision == status.revision)
    if desired_live:
        return TRUE, "Released", status.message
    return FALSE, status.phase, status.message


def _as_stored(
    conds: tuple[Condition, ...], original: ReleaseStatus, generation: int
) -> tuple[Condition, ...]:
    """Conditions as this decision writes them, against what was stored before it."""
    # A condition set twice in one decision (False, then True again) did not flip for
    # anyone reading the stored status: keep its lastTransitionTime.
    stored = {c.type: c for c in original.conditions}
    conds = tuple(
        replace(c, last_transition_time=stored[c.type].last_transition_time)
        if c.type in stored
        and stored[c.type].status == c.status
        and stored[c.type].last_transition_time
        and stored[c.type].last_transition_time != c.last_transition_time
        else c
        for c in conds
    )
    # Every condition speaks for this generation once this decision is written.
    return tuple(
        c if c.observed_generation == generation else replace(c, observed_generation=generation)
        for c in conds
    )


def _why_not_reached(
    ctx: ReleaseContext, status: ReleaseStatus, observed: Observed
) -> tuple[str, str] | None:
    """(reason, message) when the stable Service does not carry the active revision's
    traffic: then the release is not Ready, whatever its phase says."""
    active, stable = status.active, observed.stable
    if active is None:
        return ("NotServedYet", "no revision serves yet")
    if stable is None or not stable.exists:
        return ("StableServiceMissing", "the stable Service does not exist")
    if not stable.owned:
        return ("ServiceNotOwned", f"Service {stable.name} was not created by this release")
    if dict(stable.selector or {}) != names.revision_selector(ctx.name, active.revision):
        return ("SelectorDiverged", f"Service {stable.name} does not select {active.revision}")
    if observed.stable_endpoints.get(active.revision, 0) <= 0:
        return ("NoReadyEndpoints", f"Service {stable.name} reaches no pod of {active.revision}")
    return None
