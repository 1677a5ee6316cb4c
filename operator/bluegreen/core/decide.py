"""The release state machine: ``decide(ctx, raw_spec, status, observed, now)``.

This function has no side effects: it never awaits, never reads the clock and
never calls an API. It looks at the spec, the stored status and a snapshot of
the cluster, and returns a frozen Decision: the actions to carry out, the
status to write after them, and when to look again. Because every decision is
derived from stored status plus live observation, running it again after a
crash at any instant leads to the same end state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bluegreen.core import checks as chk
from bluegreen.core import names
from bluegreen.core.actions import (
    ApplyInfrastructure,
    CheckDrift,
    ClearActionAnnotation,
    CreateDeployment,
    CreateJob,
    DeleteDeployment,
    DeleteJob,
    DeleteJobs,
    PatchSelector,
    RunHttpCheck,
    ScaleDeployment,
)
from bluegreen.core.conditions import FALSE, TRUE, ConditionType, set_condition
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decision import Decision, Draft
from bluegreen.core.errors import SpecError
from bluegreen.core.human_actions import (
    argument_problem,
    extended_deadline,
    hold_extension_seconds,
    parse_action,
)
from bluegreen.core.infrastructure import InfrastructureInputs, inputs_hash
from bluegreen.core.manifests import build_check_job, build_deployment
from bluegreen.core.observed import DeploymentState, Observed
from bluegreen.core.revision import compute_revision
from bluegreen.core.spec import Check, ReleaseSpec, parse_spec
from bluegreen.core.status import (
    HISTORY_LIMIT,
    IN_FLIGHT_PHASES,
    ActiveRevision,
    Candidate,
    CheckStatus,
    HistoryEntry,
    LastAction,
    Phase,
    Previous,
    ReleaseStatus,
)
from bluegreen.core.timefmt import format_time, parse_time

_INFRA_READY, _INFRA_APPLYING, _INFRA_FAILING = "ready", "applying", "failing"
_REJECTED, _PENDING = "Rejected", "Pending"
_APPLYING_MESSAGE = "applying infrastructure"
STANDING_STALLS = frozenset(
    {"ServiceNotOwned", "DeploymentNotOwned", "InfrastructureFailed", "SelectorDiverged"}
)
"""Stalls on the state of the world, not on a revision: they end when the world changes."""
FAILURE_CONDITIONS = (
    (ConditionType.CHECKS_PASSED, "SmokeCheckFailed"),
    (ConditionType.CANDIDATE_READY, "ReadinessTimeout"),
)
"""Conditions a failed candidate leaves behind, with the reason that names the failure."""
_PRUNE_WINDOW = 10
"""Runs looked back at when pruning: older ones were pruned when they were recent."""


def decide(
    ctx: ReleaseContext,
    raw_spec: Mapping[str, Any],
    status: ReleaseStatus,
    observed: Observed,
    now: datetime,
) -> Decision:
    """Decide the next step of one release. Pure: same inputs, same Decision."""
    draft = Draft(status=status)
    draft.set(observed_generation=ctx.generation)
    try:
        spec = parse_spec(raw_spec)
    except SpecError as err:
        draft.stalled = (err.reason, err.message)
        if status.message != err.message:
            draft.event(err.reason, err.message, warning=True)
        draft.set(message=err.message, phase=Phase.FAILED)
        _refuse_action(draft, observed, now, f"the spec is invalid ({err.reason})")
        return _finish(ctx, draft, observed, now, None, status)
    _Release(ctx, spec, draft, observed, now).run()
    return _finish(ctx, draft, observed, now, spec, status)


class _Release:
    """One decide() call's working state; a plain helper, discarded on return."""

    def __init__(
        self,
        ctx: ReleaseContext,
        spec: ReleaseSpec,
        draft: Draft,
        observed: Observed,
        now: datetime,
    ) -> None:
        self.ctx, self.spec, self.draft, self.obs, self.now = ctx, spec, draft, observed, now
        self.stamp = format_time(now)
        self.desired = compute_revision(spec.template)

    @property
    def status(self) -> ReleaseStatus:
        return self.draft.status

    # -- the steps, in order; each returns True when this decision is complete --

    def run(self) -> None:
        self._track_desired_revision()
        self._report_exposure()
        if self._foreign_object_named():
            return
        self._steps()
        self._restore_selector()

    def _steps(self) -> None:
        if self._human_action():
            return
        infrastructure = self._infrastructure()
        if infrastructure == _INFRA_APPLYING:
            return
        self._sync_replicas()
        if self._confirm_switch() or self._revert_by_spec() or self._retry_rollback():
            return
        if infrastructure == _INFRA_FAILING:
            # No new candidate on broken infrastructure, but the running hold goes on:
            # its checks still guard the switch that happened, and may roll it back.
            active = self.status.active
            if active and active.revision == self.desired and self.status.previous:
                if self.status.phase == Phase.HOLDING:
                    self._hold()
            else:
                self._hold_beside_candidate()
            return
        if self.status.active and self.status.active.revision == self.desired:
            self._desired_is_active()
        elif self.status.failed_revision == self.desired:
            self._desired_has_failed()
        else:
            if self._hold_beside_candidate():
                return
            self._release_candidate()

    def _foreign_object_named(self) -> bool:
        """Stall, touching nothing, when the spec names an object that is not ours.

        A Service is taken over only when a human annotated it for this release;
        then the infrastructure step adopts it (``_infrastructure``).
        """
        for role, service in (("stable", self.obs.stable), ("preview", self.obs.preview)):
            if service is None or not service.exists or service.owned or service.adoptable:
                continue
            self._stall_once(
                "ServiceNotOwned",
                f"{role} Service {service.name} exists and was not created by this release; "
                f"it is left untouched (annotate it {names.ADOPT_ANNOTATION}={self.ctx.name} "
                "to hand it over, or name another Service)",
            )
            return True
        wanted = names.deployment_name(self.ctx.name, self.desired)
        if wanted in self.obs.foreign_deployments and self.desired not in self.obs.deployments:
            self._stall_once(
                "DeploymentNotOwned",
                f"Deployment {wanted} exists and is not controlled by this release; "
                "it is left untouched",
            )
            return True
        return False

    def _stall_once(self, reason: str, message: str) -> None:
        """Stalled with ``reason``; the Warning Event only when the message is new."""
        self.draft.stalled = (reason, message)
        if self.status.message != message:
            self.draft.event(reason, message, warning=True)
        self.draft.set(message=message)

    def _report_exposure(self) -> None:
        """Warn when another Service's selector matches the release's pods.

        Such a Service sends its traffic to every revision, candidates included,
        before any check passed: the switch no longer controls who is served.
        """
        exposing = self.obs.exposing_services
        if exposing:
            message = (
                f"Service(s) {', '.join(exposing)} also select this release's pods: they "
                "reach candidates before any check; narrow their selectors or the "
                "template's labels"
            )
            current = self.status.condition(ConditionType.ISOLATED)
            if current is None or current.status != FALSE or current.message != message:
                self.draft.event("SelectedByOtherService", message, warning=True)
            self._set(ConditionType.ISOLATED, FALSE, "SelectedByOtherService", message)
        else:
            self._set(
                ConditionType.ISOLATED,
                TRUE,
                "OwnServicesOnly",
                "only this release selects its pods",
            )

    def _patch_stable(self, revision: str, deployment: str) -> None:
        """The traffic switch: fenced on the Service as observed, readiness re-read first."""
        stable = self.obs.stable
        self.draft.act(
            PatchSelector(
                self.spec.service.name,
                names.revision_selector(self.ctx.name, revision),
                revision,
                stable=True,
                uid=stable.uid if stable else "",
                resource_version=stable.resource_version if stable else "",
                ready_deployment=deployment,
            )
        )

    def _sync_replicas(self) -> None:
        """``spec.replicas`` reaches the serving and the candidate Deployments at once."""
        wanted = self.spec.replicas
        active, candidate = self.status.active, self.status.preview
        for block in (active, candidate):
            if block is None:
                continue
            live = self.obs.deployments.get(block.revision)
            if live is None or live.deleting or live.replicas == wanted:
                continue
            if block is candidate and block.revision != self.desired:
                continue  # a superseded candidate is about to go
            self.draft.act(ScaleDeployment(live.name, wanted))
            if block is active and active is not None:
                self.draft.set(active=replace(active, replicas=wanted))
            elif candidate is not None:
                self.draft.set(preview=replace(candidate, replicas=wanted, ready_at=""))

    def _restore_selector(self) -> None:
        """Point the stable Service back at the active revision when it points elsewhere.

        Status is written only after the selector patch it records, so a stable
        selector other than the active revision's means the status write was lost
        (a crash right after a switch), a hand edit, or a re-created Service
        (selecting nothing). Unless this decision moves traffic anyway, restore it.
        """
        active, stable = self.status.active, self.obs.stable
        if active is None or stable is None or not stable.usable:
            return
        wanted = names.revision_selector(self.ctx.name, active.revision)
        if dict(stable.selector or {}) == wanted:
            return
        if any(isinstance(a, PatchSelector) and a.stable for a in self.draft.actions):
            return
        kept = self.obs.deployments.get(active.revision)
        if kept is None or not kept.fully_ready or kept.template_changed:
            message = (
                f"stable Service {stable.name} does not select the active revision "
                f"{active.revision}, which is not ready to take traffic back"
            )
            self.draft.stalled = ("SelectorDiverged", message)
            return
        self._patch_stable(active.revision, active.deployment)
        self.draft.event(
            "SelectorRestored",
            f"stable Service {stable.name} pointed back at the active revision {active.revision}",
            warning=True,
        )
        self.draft.continue_now = True

    def _track_desired_revision(self) -> None:
        """A new spec revision clears stale approvals and failures of older ones."""
        if self.status.revision == self.desired:
            return
        changes: dict[str, Any] = {"revision": self.desired}
        if self.status.approved_revision not in ("", self.desired):
            changes["approved_revision"] = ""
        if self.status.failed_revision:
            # Also when the spec moves (back) to the revision that failed: the failure
            # happened while another revision was asked for (a rollback of the active
            # one), and asking for it now is a new request.
            changes["failed_revision"] = ""
        self.draft.set(**changes)

    def _human_action(self) -> bool:
        raw = self.obs.action
        if not raw:
            return False
        if self.status.last_action and self.status.last_action.raw == raw:
            # Consumed and recorded: only now clear it. Clearing it in the same step as
            # acting on it would lose the action to a crash before the status write.
            self.draft.act(ClearActionAnnotation(raw))
            return False
        action = parse_action(raw)
        if action is None:
            result = f"Rejected: unknown action {raw!r}"
            verb = "unknown"
        else:
            verb = action.verb
            result = self._apply_human_action(action.verb, action.argument)
        self.draft.set(
            last_action=LastAction(
                action=verb, raw=raw, time=self.stamp, result=result, revision=self.desired
            )
        )
        self.draft.event("ActionConsumed", f"{verb}: {result}", warning=result.startswith("Rej"))
        self.draft.continue_now = True
        return True

    def _apply_human_action(self, verb: str, argument: str) -> str:
        status = self.status
        problem = argument_problem(verb, argument)
        if problem:
            return f"Rejected: {problem}"
        if verb == "promote":
            if argument and argument != self.desired:
                return f"Rejected: revision {argument} is not the desired {self.desired}"
            self.draft.set(approved_revision=self.desired)
            return f"Approved revision {self.desired}"
        if verb == "extend-hold":
            if not status.previous or status.previous.draining:
                return "Rejected: no hold in progress"
            seconds = hold_extension_seconds(argument) or 0
            deadline = parse_time(status.previous.delete_after) or self.now
            extended = extended_deadline(deadline, seconds, self.now)
            if extended is None:
                return "Rejected: the hold already ends at the latest allowed time"
            stamp = format_time(extended)
            self.draft.set(previous=_replace_previous(status.previous, stamp))
            return f"Hold extended to {stamp}"
        if verb == "rollback" or (verb == "abort" and status.previous and not status.preview):
            return self._rollback("ManualRollback", "rolled back by a human")
        if verb == "abort":
            if not status.preview:
                return "Rejected: nothing in flight"
            self._fail_candidate("Aborted", "aborted by a human")
            return f"Aborted revision {self.desired}"
        return "Rejected"

    def _infrastructure(self) -> str:
        """``_INFRA_READY``, ``_INFRA_APPLYING`` (an apply is queued) or ``_INFRA_FAILING``."""
        inputs = self._infrastructure_inputs()
        wanted = inputs_hash(inputs, self.ctx.module_checksum)
        infra = self.status.infrastructure
        # Missing, or foreign but handed over (adopt annotation): the module takes it.
        missing = any(
            service is None or not service.usable for service in (self.obs.stable, self.obs.preview)
        )
        if infra.inputs_hash == wanted and not missing:
            return _INFRA_APPLYING if self._maybe_check_drift(inputs) else _INFRA_READY
        first = self.status.active is None
        if infra.failed_inputs_hash == wanted:
            failed_at = parse_time(infra.last_failure_time) or self.now
            retry_at = failed_at + timedelta(seconds=self.ctx.infrastructure_retry_seconds)
            if self.now < retry_at:
                self.draft.stalled = ("InfrastructureFailed", infra.message)
                self.draft.wake_in((retry_at - self.now).total_seconds())
                if first:
                    self.draft.set(phase=Phase.FAILED)
                    return _INFRA_APPLYING
                return _INFRA_FAILING
        if first or missing:
            # Not Complete while a Service is missing: status never claims more than is true.
            self.draft.set(phase=Phase.PROVISIONING, message=_APPLYING_MESSAGE)
        self.draft.progress = ("Provisioning", "applying the infrastructure module")
        self.draft.act(ApplyInfrastructure(inputs=inputs, inputs_hash=wanted))
        self.draft.continue_now = True
        return _INFRA_APPLYING

    def _maybe_check_drift(self, inputs: InfrastructureInputs) -> bool:
        interval = self.ctx.drift_interval_seconds
        if interval <= 0 or self.status.phase not in (Phase.COMPLETE,):
            return False
        last = parse_time(self.status.infrastructure.last_drift_check_time)
        last = last or parse_time(self.status.infrastructure.last_apply_time)
        due = (last or self.now) + timedelta(seconds=interval)
        if self.now < due:
            self.draft.wake_in((due - self.now).total_seconds())
            return False
        self.draft.act(CheckDrift(inputs))
        self.draft.continue_now = True
        return True

    def _confirm_switch(self) -> bool:
        """After a selector patch, wait until EndpointSlices show only the new pods."""
        active = self.status.active
        if self.status.phase != Phase.SWITCHING or active is None:
            return False
        ready = self.obs.stable_endpoints.get(active.revision, 0)
        others = sum(n for rev, n in self.obs.stable_endpoints.items() if rev != active.revision)
        if ready < max(active.replicas, 1) or others or self.obs.stable_unknown_endpoints:
            waiting = (
                f"waiting for EndpointSlices: {ready}/{active.replicas} ready endpoints of "
                f"{active.revision}, {others + self.obs.stable_unknown_endpoints} others"
            )
            if self.desired not in (active.revision, self.status.failed_revision):
                # A newer spec (a revert, a newer revision) is honoured while we wait:
                # the selector already moved, only its confirmation is pending.
                return False
            return self._switch_overdue(waiting)
        rolled_back = self.status.failed_revision == self.desired
        self._set(ConditionType.TRAFFIC_SWITCHED, TRUE, "Confirmed", f"serving {active.revision}")
        self.draft.event(
            "RolledBack" if rolled_back else "TrafficSwitched",
            f"stable Service {self.spec.service.name} reaches only {active.revision} "
            f"({ready} endpoints)",
            warning=rolled_back,
        )
        if rolled_back:
            self.draft.set(phase=Phase.ROLLED_BACK)
        elif self.status.previous and not self.status.previous.draining:
            self.draft.set(phase=Phase.HOLDING)
        else:
            self.draft.set(phase=Phase.COMPLETE)
        self.draft.continue_now = True
        return True

    def _switch_overdue(self, waiting: str) -> bool:
        """Keep waiting for the switch to show in EndpointSlices, up to its deadline.

        Past it, a forward switch goes back to the held previous revision; otherwise
        the release stalls (SwitchTimeout) and keeps watching.
        """
        active = self.status.active
        assert active is not None
        started = parse_time(active.switched_at) or self.now
        deadline = started + timedelta(seconds=self.ctx.switch_timeout_seconds)
        if self.now < deadline:
            self.draft.progress = ("Switching", waiting)
            self.draft.wake_in(
                min(self.ctx.switch_confirm_requeue_seconds, (deadline - self.now).total_seconds())
            )
            return True
        message = (
            f"the stable Service did not reach {active.revision} within "
            f"{self.ctx.switch_timeout_seconds:.0f}s ({waiting})"
        )
        previous = self.status.previous
        if previous is not None and not previous.draining:
            self._rollback("SwitchTimeout", message)
            return True
        self.draft.stalled = ("SwitchTimeout", message)
        self.draft.wake_in(self.ctx.switch_confirm_requeue_seconds * 5)
        return True

    def _revert_by_spec(self) -> bool:
        """The spec went back to the held previous revision: switch back at once."""
        previous, active = self.status.previous, self.status.active
        if not previous or not active or previous.revision != self.desired:
            return False
        if previous.draining or previous.revision == self.status.failed_revision:
            return False  # a rolled-back revision waiting for collection, not a revert
        if active.revision == self.desired:
            return False
        kept = self.obs.deployments.get(previous.revision)
        if kept is None or kept.deleting:
            # Nothing left to switch back to (deleted by hand, or by a switch whose status
            # write was lost): the revision is deployed and checked afresh instead.
            self.draft.set(previous=None)
            self.draft.event(
                "PreviousGone",
                f"{previous.deployment} is gone; revision {previous.revision} is deployed again",
                warning=True,
            )
            return False
        result = self._rollback("SpecReverted", "the spec returned to the previous revision")
        # A revert is what the spec asks for, not a failure: nothing is retried, and the
        # abandoned revision only drains before it is deleted.
        self.draft.set(failed_revision="")
        if result.startswith(_REJECTED):
            # _rollback cannot move traffic: wait for a human (or the Deployment's
            # watch) instead of looping on the same refusal.
            self.draft.stalled = ("RollbackBlocked", result)
            self.draft.wake_in(self.ctx.switch_confirm_requeue_seconds * 5)
        return True

    def _retry_rollback(self) -> bool:
        """A human's rollback that waited for the previous revision's pods, retried."""
        last = self.status.last_action
        previous = self.status.previous
        if last is None or not last.result.startswith(_PENDING):
            return False
        if previous is None or previous.draining or last.action not in ("rollback", "abort"):
            self.draft.set(last_action=replace(last, result="Rolled back or superseded"))
            return False
        result = self._rollback("ManualRollback", "rolled back by a human")
        if result != last.result:
            self.draft.set(last_action=replace(last, result=result))
        return True

    # -- the desired revision is already serving --

    def _desired_is_active(self) -> None:
        active = self.status.active
        assert active is not None
        self._drop_candidate("Superseded")
        live = self.obs.deployments.get(active.revision)
        if live is not None and live.template_changed:
            self._stall_once(
                "DeploymentModified",
                f"the pod template of {live.name} was changed outside the release; its pods "
                "are not the ones that were checked: apply a new revision to replace them",
            )
        if not self._stable_reaches(active.revision):
            # Complete and Ready only while the stable Service reaches the active
            # revision: go back to Switching, which restores and proves it (or times out).
            self.draft.set(
                phase=Phase.SWITCHING,
                active=replace(active, switched_at=self.stamp),
                message=f"stable Service {self.spec.service.name} does not reach "
                f"{active.revision}; restoring",
            )
            self._set(ConditionType.TRAFFIC_SWITCHED, FALSE, "Restoring", self.status.message)
            self.draft.continue_now = True
            return
        self._set(ConditionType.TRAFFIC_SWITCHED, TRUE, "Confirmed", f"serving {active.revision}")
        # Revisions no block accounts for (a retired hold still reached at its switch, a
        # crash) go as soon as nothing routes to them, also during a hold.
        self._delete_strays()
        if self.status.previous and self._hold():
            return
        # Also after a rollback: the spec now asks for the revision that serves.
        self.draft.set(phase=Phase.COMPLETE, message=f"revision {active.revision} serves")
        self._delete_strays()

    def _stable_reaches(self, revision: str) -> bool:
        """The stable Service exists, is ours, selects ``revision`` and has its endpoints."""
        stable = self.obs.stable
        if stable is None or not stable.usable:
            return False
        if dict(stable.selector or {}) != names.revision_selector(self.ctx.name, revision):
            return False
        return self.obs.stable_endpoints.get(revision, 0) > 0

    def _hold_beside_candidate(self) -> bool:
        """The running hold goes on while a newer candidate is in flight (or infra fails).

        Its checks guard the revision that serves; a failure rolls back at once.
        True when this decision rolled back.
        """
        previous, active = self.status.previous, self.status.active
        if previous is None or previous.draining or active is None or not self.status.served:
            return False
        if active.revision == self.desired or not self.spec.hold.checks:
            return False
        delete_after = parse_time(previous.delete_after) or self.now
        if self.now >= delete_after:
            return False
        verdict = self._run_checks(self.spec.hold.checks, chk.HOLD, active.revision)
        if verdict != chk.FAILED:
            return False
        self._rollback("HoldCheckFailed", "a hold check failed")
        return True

    def _hold(self) -> bool:
        """Run hold checks until deleteAfter; roll back on a failure. True while holding."""
        previous = self.status.previous
        assert previous is not None
        delete_after = parse_time(previous.delete_after) or self.now
        if self.status.phase == Phase.HOLDING:
            verdict = self._run_checks(self.spec.hold.checks, chk.HOLD, self.desired)
            if verdict == chk.FAILED:
                self._rollback("HoldCheckFailed", "a hold check failed")
                return True
            if self.now < delete_after:
                remaining = (delete_after - self.now).total_seconds()
                self.draft.progress = (
                    "Holding",
                    f"holding {previous.revision} for {remaining:.0f}s",
                )
                self.draft.wake_in(remaining)
                return True
            if verdict != chk.PASSED:
                return True  # a last hold check is still running
        if self.now < delete_after:
            self.draft.wake_in((delete_after - self.now).total_seconds())
            return True
        return not self._collect_previous()

    def _collect_previous(self) -> bool:
        """Delete the previous Deployment once nothing can route to it. True when done."""
        previous = self.status.previous
        assert previous is not None
        selector = self.obs.stable.selector if self.obs.stable else None
        still_routed = self.obs.stable_endpoints.get(previous.revision, 0) > 0
        if selector == names.revision_selector(self.ctx.name, previous.revision) or still_routed:
            self.draft.wake_in(self.ctx.switch_confirm_requeue_seconds)
            return False
        live = self.obs.deployments.get(previous.revision)
        if live is not None:
            self.draft.act(DeleteDeployment(previous.deployment, previous.revision, live.uid))
        self.draft.event("PreviousDeleted", f"deleted {previous.deployment} after the hold")
        self.draft.set(previous=None)
        self.draft.continue_now = True
        return True

    # -- the desired revision failed and waits for a new spec --

    def _desired_has_failed(self) -> None:
        self._drop_candidate("Failed", record=False)
        if self._hold_beside_candidate():
            return  # the hold of what serves goes on after a newer candidate failed
        # The failed revision's pods go once nothing routes to them.
        self._delete_strays(records_of=self.desired)
        if self.status.previous:
            delete_after = parse_time(self.status.previous.delete_after) or self.now
            if self.now >= delete_after:
                self._collect_previous()
            else:
                self.draft.wake_in((delete_after - self.now).total_seconds())
        if self.status.phase not in (Phase.FAILED, Phase.ROLLED_BACK):
            self.draft.set(phase=Phase.FAILED)
        reason, message = self._failure_cause()
        self.draft.set(message=message)
        self.draft.stalled = (reason, message)

    def _failure_cause(self) -> tuple[str, str]:
        """Why the desired revision failed, as reported when it failed.

        ``status.message`` may since describe something else: a stall on the world
        that has ended (a foreign Service the spec named for a while) or an
        infrastructure apply. The cause survives in the conditions the failure set.
        """
        status = self.status
        stalled = status.condition(ConditionType.STALLED)
        message_is_cause = bool(status.message) and status.message != _APPLYING_MESSAGE
        if stalled is not None and stalled.status == TRUE and stalled.message == status.message:
            if stalled.reason in STANDING_STALLS:
                message_is_cause = False
            elif status.phase == Phase.FAILED:
                return stalled.reason, stalled.message
        if status.phase == Phase.ROLLED_BACK:
            rolled_back = f"revision {self.desired} was rolled back"
            return "RolledBack", status.message if message_is_cause else rolled_back
        for kind, reason in FAILURE_CONDITIONS:
            cond = status.condition(kind)
            if cond is not None and cond.status == FALSE and cond.reason == reason:
                return reason, cond.message
        return "ReleaseFailed", status.message if message_is_cause else (
            f"revision {self.desired} failed"
        )

    # -- a new revision: deploy, verify, gate, switch --

    def _release_candidate(self) -> None:
        self._drop_candidate("Superseded")
        candidate = self.status.preview
        started = candidate is None
        if candidate is None:
            candidate = self._start_candidate()
        deployment = self.obs.deployments.get(candidate.revision)
        if deployment is None and not started:
            # Created but not yet seen (or deleted by hand): creating is idempotent. Pods
            # that may be new must pass the checks again; results of the old ones are stale.
            self.draft.act(CreateDeployment(self._candidate_manifest(candidate.replicas)))
            self.draft.set(
                checks=self._fresh_checks(), preview=_replace_candidate(candidate, ready_at="")
            )
            candidate = self.status.preview or candidate
        if deployment is not None and deployment.template_changed and not deployment.deleting:
            self._replace_modified_candidate(candidate, deployment.name, deployment.uid)
            return
        self._point_preview()
        if deployment is None or not deployment.available:
            self._await_readiness(candidate, deployment is not None)
            return
        if not candidate.ready_at:
            self.draft.set(preview=_replace_candidate(candidate, ready_at=self.stamp))
            self.draft.event("CandidateReady", f"{candidate.deployment} is available")
        self.draft.set(
            preview=_replace_candidate(self.status.preview, ready=deployment.ready_replicas)
        )
        self._set(ConditionType.CANDIDATE_READY, TRUE, "Available", candidate.deployment)
        verdict = self._run_checks(self.spec.smoke_checks, chk.SMOKE, self.desired)
        if verdict == chk.FAILED:
            self._fail_candidate("SmokeCheckFailed", self._first_failure(chk.SMOKE))
            return
        if verdict != chk.PASSED:
            self.draft.set(phase=Phase.VERIFYING, message="running smoke checks")
            self.draft.progress = ("Verifying", "running smoke checks")
            return
        self._set(ConditionType.CHECKS_PASSED, TRUE, "Passed", "all smoke checks passed")
        approved = self.desired in (
            self.spec.promotion.approved_revision,
            self.status.approved_revision,
        )
        if not self.spec.promotion.auto and not approved:
            if self.status.phase != Phase.AWAITING_PROMOTION:
                self.draft.event("AwaitingPromotion", f"revision {self.desired} awaits approval")
            self.draft.set(phase=Phase.AWAITING_PROMOTION, message="awaiting promotion")
            self.draft.progress = ("AwaitingPromotion", f"approve revision {self.desired}")
            return
        self._switch(deployment.fully_ready)

    def _replace_modified_candidate(self, candidate: Candidate, name: str, uid: str) -> None:
        """A candidate edited by hand is not what the spec asks for: delete and redo it.

        Once the old Deployment is gone, ``_release_candidate`` creates it afresh and
        every check runs again on the new pods.
        """
        message = (
            f"the pod template of {name} was changed outside the release; it is "
            "re-created and checked again"
        )
        self.draft.event("CandidateModified", message, warning=True)
        self._delete_unselected(candidate.revision, name, uid)
        self.draft.set(
            checks=self._fresh_checks(),
            preview=replace(candidate, ready_at="", ready_replicas=0),
            phase=Phase.DEPLOYING,
            message=message,
        )
        self._set(ConditionType.CANDIDATE_READY, FALSE, "CandidateModified", message)
        self.draft.progress = ("Deploying", message)
        self.draft.wake_in(self.ctx.switch_confirm_requeue_seconds)

    def _start_candidate(self) -> Candidate:
        active = self.status.active
        observed_active = self.obs.deployments.get(active.revision) if active else None
        if observed_active is not None:
            replicas = observed_active.replicas
        else:
            replicas = active.replicas if active else self.spec.replicas
        deadline = self.now + timedelta(seconds=self.spec.readiness_timeout_seconds)
        candidate = Candidate(
            revision=self.desired,
            deployment=names.deployment_name(self.ctx.name, self.desired),
            image=self.spec.image,
            replicas=max(replicas, 1),
            deadline=format_time(deadline),
            started_at=self.stamp,
        )
        self.draft.act(CreateDeployment(self._candidate_manifest(candidate.replicas)))
        self.draft.event(
            "CandidateCreated", f"deploying {candidate.deployment} ({self.spec.image})"
        )
        self._set(ConditionType.CANDIDATE_READY, FALSE, "Deploying", candidate.deployment)
        self._set(ConditionType.CHECKS_PASSED, FALSE, "Pending", "smoke checks not run yet")
        if self.status.active:
            self._set(ConditionType.TRAFFIC_SWITCHED, FALSE, "Pending", "candidate in flight")
        self.draft.set(
            checks=self._fresh_checks(),
            preview=candidate,
            phase=Phase.DEPLOYING,
            message=f"deploying {candidate.deployment}",
            approved_revision=self.status.approved_revision
            if self.status.approved_revision == self.desired
            else "",
        )
        self.draft.continue_now = True
        return candidate

    def _fresh_checks(self) -> tuple[CheckStatus, ...]:
        """Check results with the desired revision's marked pending, to be run afresh.

        Results of an earlier attempt at this revision (failed, superseded, or its
        Deployment deleted) belong to other pods. Runs keep counting, so new Jobs never
        share a name with old ones.
        """
        return tuple(
            replace(c, phase=chk.PENDING, message="new attempt")
            if c.revision == self.desired
            else c
            for c in self.status.checks
        )

    def _candidate_manifest(self, replicas: int) -> dict[str, Any]:
        return build_deployment(self.ctx, self.spec.template, self.desired, replicas)

    def _point_preview(self) -> None:
        wanted = names.revision_selector(self.ctx.name, self.desired)
        preview = self.obs.preview
        if preview is not None and preview.usable and dict(preview.selector or {}) != wanted:
            self.draft.act(
                PatchSelector(
                    self.spec.preview_service_name,
                    wanted,
                    self.desired,
                    stable=False,
                    uid=preview.uid,
                    resource_version=preview.resource_version,
                )
            )

    def _await_readiness(self, candidate: Candidate, seen: bool) -> None:
        deadline = parse_time(candidate.deadline) or self.now
        if self.now >= deadline:
            self._fail_candidate(
                "ReadinessTimeout",
                f"{candidate.deployment} was not available within "
                f"{self.spec.readiness_timeout_seconds}s",
            )
            return
        ready = self.obs.deployments[candidate.revision].ready_replicas if seen else 0
        self.draft.set(
            phase=Phase.DEPLOYING,
            preview=_replace_candidate(candidate, ready=ready),
            message=f"waiting for {candidate.deployment}: {ready}/{candidate.replicas} ready",
        )
        self.draft.progress = ("Deploying", self.status.message)
        self.draft.wake_in((deadline - self.now).total_seconds())

    def _switch(self, fully_ready: bool) -> None:
        """Move the stable Service to the candidate; refuse unless every replica is ready."""
        candidate = self.status.preview
        assert candidate is not None
        if not fully_ready:
            self.draft.set(phase=Phase.VERIFYING, message="switch refused: candidate not ready")
            self.draft.progress = ("Verifying", "switch refused until every replica is ready")
            return
        stable = self.obs.stable
        if stable is None or not stable.usable:
            self.draft.progress = ("Provisioning", "stable Service missing")
            return
        old_active, old_previous = self.status.active, self.status.previous
        self._patch_stable(self.desired, candidate.deployment)
        if old_previous is not None and old_previous.revision != self.desired:
            # A newer switch retires the older hold. Deleted only when nothing routes to
            # it any more; otherwise it is collected later as a stray.
            self._delete_unselected(old_previous.revision, old_previous.deployment, guard=False)
        previous = None
        if old_active is not None:
            hold = max(float(self.spec.hold.seconds), self.ctx.drain_seconds)
            delete_after = format_time(self.now + timedelta(seconds=hold))
            previous = Previous(
                revision=old_active.revision,
                deployment=old_active.deployment,
                image=old_active.image,
                delete_after=delete_after,
            )
        self.draft.set(
            active=ActiveRevision(
                revision=candidate.revision,
                deployment=candidate.deployment,
                image=candidate.image,
                replicas=candidate.replicas,
                ready_replicas=candidate.ready_replicas,
                switched_at=self.stamp,
            ),
            previous=previous,
            preview=None,
            phase=Phase.SWITCHING,
            served=True,
            message=f"switched {self.spec.service.name} to {candidate.revision}",
            history=_append_history(self.status.history, candidate, self.stamp, "Promoted"),
        )
        self._set(ConditionType.TRAFFIC_SWITCHED, FALSE, "Switching", "awaiting EndpointSlices")
        self.draft.continue_now = True

    # -- shared transitions --

    def _fail_candidate(self, reason: str, message: str) -> None:
        candidate = self.status.preview
        self.draft.event(reason, message, warning=True)
        if candidate is not None:
            self._delete_unselected(candidate.revision, candidate.deployment)
            self.draft.set(
                history=_append_history(self.status.history, candidate, self.stamp, "Failed")
            )
        self.draft.set(
            preview=None, phase=Phase.FAILED, failed_revision=self.desired, message=message
        )
        self.draft.stalled = (reason, message)
        if reason == "SmokeCheckFailed":
            self._set(ConditionType.CHECKS_PASSED, FALSE, reason, message)
        elif reason == "ReadinessTimeout":
            self._set(ConditionType.CANDIDATE_READY, FALSE, reason, message)

    def _rollback(self, reason: str, why: str) -> str:
        """Switch the stable Service back to the held previous revision."""
        previous, active = self.status.previous, self.status.active
        if previous is None or active is None or previous.draining:
            return "Rejected: no previous revision is held"
        kept = self.obs.deployments.get(previous.revision)
        if kept is None or kept.deleting or kept.template_changed:
            why_not = (
                "its Deployment is gone"
                if kept is None or kept.deleting
                else ("its pod template was changed outside the release")
            )
            message = f"rollback to {previous.revision} blocked: {why_not}"
            self._stall_once("RollbackBlocked", message)
            return f"{_REJECTED}: {message}"
        stable = self.obs.stable
        if stable is None or not stable.usable:
            # Renamed or deleted: the infrastructure step creates it first; a patch now
            # would hit a missing Service. Retried (_retry_rollback) once it exists.
            message = (
                f"{reason}: rolling back to {previous.revision} once the stable Service "
                f"{self.spec.service.name} exists"
            )
            self.draft.progress = ("RollbackWaiting", message)
            return f"{_PENDING}: {message}"
        # Traffic goes back only to as many ready pods as serve it now.
        needed = max(active.replicas, 1)
        if not kept.fully_ready or kept.ready_replicas < needed:
            return self._await_rollback(previous.revision, kept, needed, reason)
        self._patch_stable(previous.revision, previous.deployment)
        message = f"{why}: switched back from {active.revision} to {previous.revision}"
        self.draft.event("RollbackStarted", message, warning=True)
        history = tuple(
            h
            if h.revision != active.revision or h.outcome != "Promoted"
            else HistoryEntry(h.revision, h.image, h.started_at, self.stamp, "RolledBack")
            for h in self.status.history
        )
        self.draft.set(
            active=ActiveRevision(
                revision=previous.revision,
                deployment=previous.deployment,
                image=previous.image,
                replicas=kept.replicas,
                ready_replicas=kept.ready_replicas,
                switched_at=self.stamp,
            ),
            # The bad revision stays only until connections through it have drained.
            previous=Previous(
                active.revision,
                active.deployment,
                active.image,
                format_time(self.now + timedelta(seconds=self.ctx.drain_seconds)),
                draining=True,
            ),
            failed_revision=active.revision,
            phase=Phase.SWITCHING,
            message=message,
            history=history,
        )
        self._set(ConditionType.TRAFFIC_SWITCHED, FALSE, reason, message)
        self.draft.continue_now = True
        return f"Rolled back to {previous.revision}"

    def _await_rollback(
        self, revision: str, kept: DeploymentState, needed: int, reason: str
    ) -> str:
        """The previous revision can't take traffic yet: scale it up and switch when ready.

        Nothing moves until every replica is ready (the switch invariant); the
        Deployment's watch wakes the release as its pods come up.
        """
        needed = max(needed, kept.replicas)
        replicas, ready = kept.replicas, kept.ready_replicas
        if replicas < needed:
            self.draft.act(ScaleDeployment(kept.name, needed))
        message = (
            f"{reason}: rolling back to {revision} as soon as it is ready "
            f"({ready}/{needed} replicas ready)"
        )
        if self.status.message != message:
            self.draft.event("RollbackWaiting", message, warning=True)
        self.draft.set(message=message)
        self.draft.progress = ("RollbackWaiting", message)
        self.draft.wake_in(self.ctx.switch_confirm_requeue_seconds * 5)
        return f"{_PENDING}: {message}"

    def _drop_candidate(self, outcome: str, record: bool = True) -> None:
        """Remove an in-flight candidate that is no longer the desired revision."""
        candidate = self.status.preview
        if candidate is None or (candidate.revision == self.desired and outcome == "Superseded"):
            return
        self._delete_unselected(candidate.revision, candidate.deployment)
        if record:
            self.draft.event(outcome, f"{candidate.deployment} superseded by {self.desired}")
            self.draft.set(
                history=_append_history(self.status.history, candidate, self.stamp, outcome)
            )
        self.draft.set(preview=None)
        self.draft.continue_now = True

    def _delete_unselected(
        self, revision: str, deployment: str, uid: str = "", guard: bool = True
    ) -> None:
        """Delete a revision's Deployment unless it is active, held, selected or reached.

        ``guard`` False skips the active/held protection, for a hold being retired.
        EndpointSlices are the proof: a revision still reached keeps its pods.
        """
        protected = {r.revision for r in (self.status.active, self.status.previous) if r}
        selector = self.obs.stable.selector if self.obs.stable else None
        if guard and revision in protected:
            return
        if selector == names.revision_selector(self.ctx.name, revision):
            return
        if self.obs.stable_endpoints.get(revision, 0) > 0:
            self.draft.wake_in(self.ctx.switch_confirm_requeue_seconds)
            return
        queued = any(
            isinstance(a, DeleteDeployment) and a.revision == revision for a in self.draft.actions
        )
        live = self.obs.deployments.get(revision)
        if live is not None and not queued:
            self.draft.act(DeleteDeployment(deployment, revision, uid or live.uid))

    def _delete_strays(self, records_of: str = "") -> None:
        """Deployments of this release that no status block accounts for (e.g. a crash).

        ``records_of`` names a revision whose check results and Jobs stay (a failed
        revision keeps them for whoever investigates), though its Deployment goes.
        """
        keep = {
            r.revision for r in (self.status.active, self.status.previous, self.status.preview) if r
        }
        for revision, deployment in self.obs.deployments.items():
            if revision not in keep and not deployment.deleting:
                self._delete_unselected(revision, deployment.name)
        keep_records = keep | ({records_of} if records_of else set())
        if any(job.revision not in keep_records for job in self.obs.jobs.values()):
            self.draft.act(DeleteJobs(frozenset(keep_records)))
        self.draft.set(checks=chk.keep_revisions(self.status.checks, keep_records))

    def _run_checks(self, checks: tuple[Check, ...], stage: str, revision: str) -> str:
        """Start due checks and fold in finished Jobs; returns the stage's verdict."""
        for check in checks:
            self._advance_check(check, stage, revision)
        verdict = chk.summary(checks, self.status.checks, stage, revision)
        if verdict == chk.PENDING:
            self.draft.wake_in(self.ctx.switch_confirm_requeue_seconds * 5)
        return verdict

    def _advance_check(self, check: Check, stage: str, revision: str) -> None:
        last = chk.latest(self.status.checks, stage, check.name, revision)
        if last is not None and last.phase == chk.FAILED:
            return
        if last is not None and last.phase == chk.RUNNING and check.job is not None:
            self._observe_job(check, stage, revision, last)
            return
        if last is not None and last.phase == chk.PASSED and not self._rerun_due(stage, last):
            return
        run = (last.run + 1) if last else 1
        url = self._check_url(check, stage)
        if check.http is not None:
            self.draft.act(RunHttpCheck(check, stage, revision, url, run))
            self.draft.continue_now = True
            return
        # A Job left by an attempt whose status was lost (a crash) must not stand in
        # for this run: its result belongs to other pods. Number past every Job seen,
        # and past names held by objects that are not ours.
        taken = set(self.obs.jobs) | set(self.obs.foreign_jobs)
        while names.job_name(self.ctx.name, revision, check.name, stage, run) in taken:
            run += 1
        self._prune_finished_jobs(check, stage, revision, run)
        self.draft.act(
            CreateJob(
                build_check_job(self.ctx, check, stage, revision, run, url),
                check.name,
                stage,
                revision,
                run,
            )
        )
        entry = CheckStatus(
            name=check.name,
            stage=stage,
            kind=check.kind,
            revision=revision,
            phase=chk.RUNNING,
            message="job created",
            time=self.stamp,
            run=run,
            # Jobs are attempted once; Kubernetes retries inside per backoffLimit.
            attempts=1,
        )
        self.draft.set(checks=chk.upsert(self.status.checks, entry))

    def _prune_finished_jobs(self, check: Check, stage: str, revision: str, run: int) -> None:
        """Hold checks re-run for the whole hold: keep only the last finished Job."""
        for older in range(max(1, run - _PRUNE_WINDOW), run - 1):
            name = names.job_name(self.ctx.name, revision, check.name, stage, older)
            job = self.obs.jobs.get(name)
            if job is not None and (job.succeeded or job.failed):
                self.draft.act(DeleteJob(name, job.uid))

    def _observe_job(self, check: Check, stage: str, revision: str, last: CheckStatus) -> None:
        job_name = names.job_name(self.ctx.name, revision, check.name, stage, last.run)
        job = self.obs.jobs.get(job_name)
        if job is None:
            # Lost before it finished (deleted, or a crash before creation): start it again.
            url = self._check_url(check, stage)
            self.draft.act(
                CreateJob(
                    build_check_job(self.ctx, check, stage, revision, last.run, url),
                    check.name,
                    stage,
                    revision,
                    last.run,
                )
            )
            return
        if not job.succeeded and not job.failed:
            return
        phase = chk.PASSED if job.succeeded else chk.FAILED
        message = job.message or ("job succeeded" if job.succeeded else "job failed")
        entry = CheckStatus(
            name=check.name,
            stage=stage,
            kind=check.kind,
            revision=revision,
            phase=phase,
            attempts=last.attempts,
            message=message,
            time=self.stamp,
            run=last.run,
        )
        self.draft.set(checks=chk.upsert(self.status.checks, entry))
        self.draft.event(
            "CheckPassed"
            if job.succeeded
            else ("SmokeCheckFailed" if stage == chk.SMOKE else "HoldCheckFailed"),
            f"{stage} check {check.name} for {revision}: {message}",
            warning=not job.succeeded,
        )

    def _rerun_due(self, stage: str, last: CheckStatus) -> bool:
        if stage != chk.HOLD:
            return False
        ran_at = parse_time(last.time) or self.now
        due = ran_at + timedelta(seconds=self.spec.hold.check_interval_seconds)
        previous = self.status.previous
        hold_ends = parse_time(previous.delete_after) if previous else None
        if hold_ends is not None and due >= hold_ends:
            return False
        if self.now >= due:
            return True
        self.draft.wake_in((due - self.now).total_seconds())
        return False

    def _check_url(self, check: Check, stage: str) -> str:
        """Smoke checks reach the candidate through the preview Service; hold checks, stable."""
        service = self.obs.preview if stage == chk.SMOKE else self.obs.stable
        fallback = self.spec.preview_service_name if stage == chk.SMOKE else self.spec.service.name
        path = check.http.path if check.http else "/"
        if check.http is not None and check.http.url:
            return f"{check.http.url}{path}"
        port = (check.http.port if check.http else None) or self.spec.service.port
        host = service.cluster_ip if service and service.cluster_ip else None
        host = host or f"{fallback}.{self.ctx.namespace}.svc"
        return f"http://{host}:{port}{path}"

    def _first_failure(self, stage: str) -> str:
        for result in self.status.checks:
            if (
                result.stage == stage
                and result.revision == self.desired
                and result.phase == chk.FAILED
            ):
                return f"{stage} check {result.name} failed: {result.message}"
        return f"a {stage} check failed"

    def _infrastructure_inputs(self) -> InfrastructureInputs:
        return build_infrastructure_inputs(self.ctx, self.spec)

    def _set(self, kind: str, value: str, reason: str, message: str) -> None:
        self.draft.set(
            conditions=set_condition(
                self.status.conditions,
                kind,
                value,
                reason,
                message,
                self.ctx.generation,
                self.stamp,
            )
        )


def infrastructure_inputs_for(
    ctx: ReleaseContext, raw_spec: Mapping[str, Any]
) -> InfrastructureInputs:
    """The inputs a (valid) spec asks for; used at deletion to destroy the same state."""
    return build_infrastructure_inputs(ctx, parse_spec(raw_spec))


def build_infrastructure_inputs(ctx: ReleaseContext, spec: ReleaseSpec) -> InfrastructureInputs:
    return InfrastructureInputs(
        release=ctx.name,
        release_namespace=ctx.namespace,
        namespace=ctx.namespace,
        # The release lives in its namespace, so it exists already: never create or
        # destroy it from here.
        create_namespace=False,
        service_name=spec.service.name,
        service_type=spec.service.type,
        service_port=spec.service.port,
        # A number or a named container port: the module accepts both.
        target_port=spec.service.target_port,
        preview_service_name=spec.preview_service_name,
        labels=names.release_labels(ctx.name),
        extra_variables=spec.infrastructure.variables,
    )


def _refuse_action(draft: Draft, observed: Observed, now: datetime, why: str) -> None:
    """Consume a human action that can't be acted on: recorded, announced, then cleared.

    An annotation left in place would be read again on every event, and a later
    fixed spec would act on an instruction given for another state.
    """
    raw = observed.action
    last = draft.status.last_action
    if not raw:
        return
    if last is not None and last.raw == raw:
        draft.act(ClearActionAnnotation(raw))
        return
    action = parse_action(raw)
    verb = action.verb if action is not None else "unknown"
    result = f"{_REJECTED}: {why}"
    draft.set(
        last_action=LastAction(
            action=verb,
            raw=raw,
            time=format_time(now),
            result=result,
            revision=draft.status.revision,
        )
    )
    draft.event("ActionConsumed", f"{verb}: {result}", warning=True)
    draft.continue_now = True


def _finish(
    ctx: ReleaseContext,
    draft: Draft,
    observed: Observed,
    now: datetime,
    spec: ReleaseSpec | None,
    original: ReleaseStatus,
) -> Decision:
    """Derive Ready, Reconciling, Stalled and Serving together so they never disagree."""
    stamp = format_time(now)
    status = draft.status
    conds = status.conditions

    def put(kind: str, value: str, reason: str, message: str) -> None:
        nonlocal conds
        conds = set_condition(conds, kind, value, reason, message, ctx.generation, stamp)

    desired_live = bool(status.active and status.active.revision == status.revision)
    if draft.stalled:
        reason, message = draft.stalled
        put(ConditionType.STALLED, TRUE, reason, message)
        put(ConditionType.RECONCILING, FALSE, reason, "needs a human: " + message)
        put(ConditionType.READY, FALSE, reason, message)
    else:
        put(ConditionType.STALLED, FALSE, "Progressing", "")
        in_flight = status.phase in IN_FLIGHT_PHASES or draft.continue_now
        if in_flight:
            reason, message = draft.progress or (status.phase, status.message)
            put(ConditionType.RECONCILING, TRUE, reason, message)
            put(ConditionType.READY, FALSE, reason, message)
        else:
            put(ConditionType.RECONCILING, FALSE, "Succeeded", status.message)
            unreached = _why_not_reached(ctx, status, observed)
            if status.phase == Phase.COMPLETE and desired_live and not unreached:
                put(ConditionType.READY, TRUE, "Released", status.message)
            elif status.phase == Phase.COMPLETE and unreached:
                put(ConditionType.READY, FALSE, *unreached)
            else:
                put(ConditionType.READY, FALSE, status.phase, status.message)
    if spec is not None:
        infra = status.infrastructure
        if infra.applied and not infra.failed_inputs_hash:
            put(ConditionType.INFRASTRUCTURE_READY, TRUE, "Applied", "infrastructure applied")
    active = status.active
    serving = active is not None and observed.stable_endpoints.get(active.revision, 0) > 0
    if serving and active is not None:
        put(ConditionType.SERVING, TRUE, "Serving", f"stable Service reaches {active.revision}")
    else:
        put(
            ConditionType.SERVING,
            FALSE,
            "NoHealthyEndpoints" if status.served else "NotServedYet",
            "",
        )
    # A condition set twice in one decision (False, then True again) did not flip for
    # anyone reading the stored status: keep its lastTransitionTime.
    stored = {c.type: c for c in original.conditions}
    conds = tuple(
        replace(c, last_transition_time=stored[c.type].last_transition_time)
        if c.type in stored
        and stored[c.type].status == c.status
        and stored[c.type].last_transition_time
        else c
        for c in conds
    )
    # Every condition speaks for this generation once this decision is written.
    conds = tuple(replace(c, observed_generation=ctx.generation) for c in conds)
    draft.set(conditions=conds)
    return Decision(
        status=draft.status,
        actions=tuple(draft.actions),
        requeue_after=draft.requeue_after,
        continue_now=draft.continue_now,
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


def _append_history(
    history: tuple[HistoryEntry, ...], candidate: Candidate, finished: str, outcome: str
) -> tuple[HistoryEntry, ...]:
    entry = HistoryEntry(
        revision=candidate.revision,
        image=candidate.image,
        started_at=candidate.started_at,
        finished_at=finished,
        outcome=outcome,
    )
    return (*history, entry)[-HISTORY_LIMIT:]


def _replace_previous(previous: Previous, delete_after: str) -> Previous:
    return Previous(
        previous.revision, previous.deployment, previous.image, delete_after, previous.draining
    )


def _replace_candidate(
    candidate: Candidate | None, ready: int | None = None, ready_at: str | None = None
) -> Candidate | None:
    if candidate is None:
        return None
    return Candidate(
        revision=candidate.revision,
        deployment=candidate.deployment,
        image=candidate.image,
        replicas=candidate.replicas,
        deadline=candidate.deadline,
        started_at=candidate.started_at,
        ready_replicas=candidate.ready_replicas if ready is None else ready,
        ready_at=candidate.ready_at if ready_at is None else ready_at,
    )
