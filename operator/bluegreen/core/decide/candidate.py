"""A new revision beside the serving one: deploy, readiness, smoke checks, gate.

Once all of them pass, ``switch.switch`` moves traffic to it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bluegreen.api.conditions import Reason
from bluegreen.api.enums import HookPoint
from bluegreen.core import checks as chk
from bluegreen.core import names
from bluegreen.core.actions import CreateDeployment
from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.decide import hook_lifecycle, hooks, record
from bluegreen.core.decide.checks import first_failure, run_checks
from bluegreen.core.decide.cleanup import delete_unselected
from bluegreen.core.decide.preview_gate import await_preview, preview_unsettled
from bluegreen.core.decide.selectors import point_preview
from bluegreen.core.decide.switch import switch
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.manifests import build_deployment
from bluegreen.core.observed import DeploymentState
from bluegreen.core.status import Candidate, CheckStatus, Phase
from bluegreen.core.timefmt import format_time

FAILURE_CONDITIONS = (
    (ConditionType.CHECKS_PASSED, "SmokeCheckFailed"),
    (ConditionType.CHECKS_PASSED, Reason.PREVIEW_NOT_SETTLED),
    (ConditionType.CANDIDATE_READY, "ReadinessTimeout"),
    (ConditionType.CANDIDATE_READY, Reason.CONTAINERS_RESTARTING),
)
"""Conditions a failed candidate leaves behind, with the reason that names the failure."""


def release_candidate(view: ReleaseView, draft: Draft) -> None:
    """Take the desired revision one step further towards the switch."""
    drop_superseded_candidate(view, draft)
    candidate = draft.status.preview
    started = candidate is None
    if candidate is None:
        candidate = _start(view, draft)
    deployment = view.observed.deployments.get(candidate.revision)
    if deployment is None and not started:
        # Created but not yet seen (or deleted by hand): creating is idempotent. Pods
        # that may be new must pass the checks again; results of the old ones are stale.
        draft.act(CreateDeployment(_manifest(view, candidate.replicas)))
        draft.set(checks=_fresh_checks(view, draft), preview=replace(candidate, ready_at=""))
        candidate = draft.status.preview or candidate
    if deployment is not None and deployment.template_changed and not deployment.deleting:
        _replace_modified(view, draft, candidate, deployment)
        return
    point_preview(view, draft)
    restarted = restarts_since_ready(deployment, candidate)
    if restarted:
        # Checked before readiness: between two crashes the pods may look ready, and
        # after one they are not, which alone would only wait for the deadline.
        fail_candidate(
            view,
            draft,
            Reason.CONTAINERS_RESTARTING,
            f"{candidate.deployment}: {restarted} container restarts after it became available",
        )
        return
    if deployment is None or not deployment.available:
        _await_readiness(view, draft, candidate, deployment)
        return
    if not candidate.ready_at:
        # Restarts from here on are a crash loop; earlier ones (a slow dependency) are not.
        draft.set(preview=replace(candidate, ready_at=view.stamp, restarts=deployment.restarts))
        draft.event("CandidateReady", f"{candidate.deployment} is available")
    preview = draft.status.preview
    if preview is not None:
        draft.set(preview=replace(preview, ready_replicas=deployment.ready_replicas))
    record.condition(
        view, draft, ConditionType.CANDIDATE_READY, TRUE, "Available", candidate.deployment
    )
    _verify_and_gate(view, draft, deployment)


def restarts_since_ready(deployment: DeploymentState | None, candidate: Candidate) -> int:
    """Container restarts of an available candidate since it became available."""
    if deployment is None or not candidate.ready_at:
        return 0
    return max(0, deployment.restarts - candidate.restarts)


def _verify_and_gate(view: ReleaseView, draft: Draft, deployment: DeploymentState) -> None:
    """Smoke checks on the available candidate, then approval, then the switch."""
    unsettled = preview_unsettled(view, draft)
    if unsettled:
        overdue = await_preview(view, draft, unsettled)
        if overdue:
            fail_candidate(view, draft, Reason.PREVIEW_NOT_SETTLED, overdue)
        return
    verdict = run_checks(view, draft, view.spec.smoke_checks, chk.SMOKE, view.desired)
    if verdict == chk.FAILED:
        fail_candidate(view, draft, "SmokeCheckFailed", first_failure(view, draft, chk.SMOKE))
        return
    if verdict != chk.PASSED:
        draft.set(phase=Phase.VERIFYING, message="running smoke checks")
        draft.progress = ("Verifying", "running smoke checks")
        return
    record.condition(
        view, draft, ConditionType.CHECKS_PASSED, TRUE, "Passed", "all smoke checks passed"
    )
    approved = view.desired in (
        view.spec.promotion.approved_revision,
        draft.status.approved_revision,
    )
    if not view.spec.promotion.auto and not approved:
        if draft.status.phase != Phase.AWAITING_PROMOTION:
            draft.event("AwaitingPromotion", f"revision {view.desired} awaits approval")
        draft.set(phase=Phase.AWAITING_PROMOTION, message="awaiting promotion")
        draft.progress = ("AwaitingPromotion", f"approve revision {view.desired}")
        return
    # Expand: the migration the new revision needs, compatible with the serving one.
    active = draft.status.active
    previous = active.revision if active else ""
    expanded = hooks.run_hooks(view, draft, HookPoint.PRE_SWITCH, view.desired, previous)
    if expanded == hooks.FAILED:
        why = hooks.failure(draft, (HookPoint.PRE_SWITCH,), view.desired)
        fail_candidate(view, draft, Reason.HOOK_FAILED, why)
        return
    if expanded != hooks.SUCCEEDED:
        draft.set(phase=Phase.VERIFYING, message="running preSwitch hooks")
        draft.progress = ("Verifying", "running preSwitch hooks")
        return
    switch(view, draft, deployment.fully_ready)


def _start(view: ReleaseView, draft: Draft) -> Candidate:
    """Deploy the desired revision with as many replicas as serve now."""
    active = draft.status.active
    observed_active = view.observed.deployments.get(active.revision) if active else None
    if observed_active is not None:
        replicas = observed_active.replicas
    else:
        replicas = active.replicas if active else view.spec.replicas
    deadline = view.now + timedelta(seconds=view.spec.readiness_timeout_seconds)
    candidate = Candidate(
        revision=view.desired,
        deployment=names.deployment_name(view.ctx.name, view.desired),
        image=view.spec.image,
        replicas=max(replicas, 1),
        deadline=format_time(deadline),
        started_at=view.stamp,
    )
    draft.act(CreateDeployment(_manifest(view, candidate.replicas)))
    draft.event("CandidateCreated", f"deploying {candidate.deployment} ({view.spec.image})")
    record.condition(
        view, draft, ConditionType.CANDIDATE_READY, FALSE, "Deploying", candidate.deployment
    )
    record.condition(
        view, draft, ConditionType.CHECKS_PASSED, FALSE, "Pending", "smoke checks not run yet"
    )
    if draft.status.active:
        record.condition(
            view, draft, ConditionType.TRAFFIC_SWITCHED, FALSE, "Pending", "candidate in flight"
        )
    approved = draft.status.approved_revision
    hook_lifecycle.fresh_attempt(draft, view.desired)
    draft.set(
        checks=_fresh_checks(view, draft),
        preview=candidate,
        phase=Phase.DEPLOYING,
        message=f"deploying {candidate.deployment}",
        approved_revision=approved if approved == view.desired else "",
    )
    draft.continue_now = True
    return candidate


def _replace_modified(
    view: ReleaseView, draft: Draft, candidate: Candidate, deployment: DeploymentState
) -> None:
    """A candidate edited by hand is not what the spec asks for: delete and redo it.

    Once the old Deployment is gone, ``release_candidate`` creates it afresh and
    every check runs again on the new pods.
    """
    message = (
        f"the pod template of {deployment.name} was changed outside the release; it is "
        "re-created and checked again"
    )
    draft.event("CandidateModified", message, warning=True)
    delete_unselected(view, draft, candidate.revision, deployment.name, deployment.uid)
    draft.set(
        checks=_fresh_checks(view, draft),
        preview=replace(candidate, ready_at="", ready_replicas=0),
        phase=Phase.DEPLOYING,
        message=message,
    )
    record.condition(
        view, draft, ConditionType.CANDIDATE_READY, FALSE, "CandidateModified", message
    )
    draft.progress = ("Deploying", message)
    draft.wake_in(view.ctx.switch_confirm_requeue_seconds)


def _fresh_checks(view: ReleaseView, draft: Draft) -> tuple[CheckStatus, ...]:
    """Check results with the desired revision's marked pending, to be run afresh.

    Results of an earlier attempt at this revision (failed, superseded, or its
    Deployment deleted) belong to other pods. Runs keep counting, so new Jobs never
    share a name with old ones.
    """
    return tuple(
        replace(c, phase=chk.PENDING, message="new attempt") if c.revision == view.desired else c
        for c in draft.status.checks
    )


def _manifest(view: ReleaseView, replicas: int) -> dict[str, Any]:
    return build_deployment(view.ctx, view.spec.template, view.desired, replicas)


def _await_readiness(
    view: ReleaseView, draft: Draft, candidate: Candidate, deployment: DeploymentState | None
) -> None:
    """Wait for every replica to be available, up to the readiness deadline."""
    deadline = view.time(candidate.deadline)
    if view.now >= deadline:
        fail_candidate(
            view,
            draft,
            "ReadinessTimeout",
            f"{candidate.deployment} was not available within "
            f"{view.spec.readiness_timeout_seconds}s",
        )
        return
    ready = deployment.ready_replicas if deployment is not None else 0
    draft.set(
        phase=Phase.DEPLOYING,
        preview=replace(candidate, ready_replicas=ready),
        message=f"waiting for {candidate.deployment}: {ready}/{candidate.replicas} ready",
    )
    draft.progress = ("Deploying", draft.status.message)
    draft.wake_in(view.seconds_until(deadline))


def fail_candidate(view: ReleaseView, draft: Draft, reason: str, message: str) -> None:
    """The desired revision failed: remove its candidate and wait for a human or a new spec."""
    candidate = draft.status.preview
    draft.event(reason, message, warning=True)
    if candidate is not None:
        delete_unselected(view, draft, candidate.revision, candidate.deployment)
        record.candidate_finished(view, draft, candidate, "Failed")
    draft.set(preview=None, phase=Phase.FAILED, failed_revision=view.desired, message=message)
    draft.stalled = (reason, message)
    for kind, failure in FAILURE_CONDITIONS:
        if reason == failure:
            record.condition(view, draft, kind, FALSE, reason, message)


def drop_superseded_candidate(view: ReleaseView, draft: Draft) -> None:
    """Remove an in-flight candidate that is no longer the desired revision."""
    candidate = draft.status.preview
    if candidate is None or candidate.revision == view.desired:
        return
    delete_unselected(view, draft, candidate.revision, candidate.deployment)
    draft.event("Superseded", f"{candidate.deployment} superseded by {view.desired}")
    record.candidate_finished(view, draft, candidate, "Superseded")
    draft.set(preview=None)
    draft.continue_now = True


def drop_failed_candidate(view: ReleaseView, draft: Draft) -> None:
    """Remove any candidate left while the desired revision has failed.

    Nothing runs for a failed revision until the spec changes. No history entry:
    ``fail_candidate`` wrote the failure's when it happened.
    """
    candidate = draft.status.preview
    if candidate is None:
        return
    delete_unselected(view, draft, candidate.revision, candidate.deployment)
    draft.set(preview=None)
    draft.continue_now = True
