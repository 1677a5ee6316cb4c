"""Folding the results of actions back into status (pure).

Terraform runs and checks produce results; the reconciler hands each one to
the matching function here, then writes the returned status.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bluegreen.api.conditions import Reason
from bluegreen.api.enums import CheckKind, EventType, HookPhase, HookPoint
from bluegreen.core import checks as chk
from bluegreen.core import metric_checks as metric
from bluegreen.core.actions import CreateJob, EmitEvent, RunHttpCheck, RunMetricCheck
from bluegreen.core.conditions import FALSE, TRUE, ConditionType, set_condition
from bluegreen.core.infrastructure import DriftReport, InfrastructureOutputs
from bluegreen.core.status import CheckStatus, InfrastructureStatus, Phase, ReleaseStatus
from bluegreen.core.timefmt import format_time


def infrastructure_applied(
    status: ReleaseStatus,
    inputs_hash: str,
    outputs: InfrastructureOutputs,
    generation: int,
    now: datetime,
) -> ReleaseStatus:
    stamp = format_time(now)
    infra = replace(
        status.infrastructure,
        applied=True,
        inputs_hash=inputs_hash,
        last_apply_time=stamp,
        outputs=outputs.as_status(),
        failed_inputs_hash="",
        last_failure_time="",
        message="",
        drift=False,
    )
    conditions = set_condition(
        status.conditions,
        ConditionType.INFRASTRUCTURE_READY,
        TRUE,
        Reason.APPLIED,
        "infrastructure applied",
        generation,
        stamp,
    )
    conditions = set_condition(
        conditions,
        ConditionType.INFRASTRUCTURE_DRIFTED,
        FALSE,
        Reason.IN_SYNC,
        "",
        generation,
        stamp,
    )
    return replace(status, infrastructure=infra, conditions=conditions)


def infrastructure_failed(
    status: ReleaseStatus, inputs_hash: str, message: str, generation: int, now: datetime
) -> ReleaseStatus:
    stamp = format_time(now)
    infra = replace(
        status.infrastructure,
        failed_inputs_hash=inputs_hash,
        last_failure_time=stamp,
        message=message,
    )
    conditions = set_condition(
        status.conditions,
        ConditionType.INFRASTRUCTURE_READY,
        FALSE,
        Reason.APPLY_FAILED,
        message,
        generation,
        stamp,
    )
    return replace(status, infrastructure=infra, conditions=conditions)


def drift_checked(
    status: ReleaseStatus, report: DriftReport, generation: int, now: datetime
) -> ReleaseStatus:
    stamp = format_time(now)
    infra: InfrastructureStatus = replace(
        status.infrastructure, drift=report.drifted, last_drift_check_time=stamp
    )
    conditions = set_condition(
        status.conditions,
        ConditionType.INFRASTRUCTURE_DRIFTED,
        TRUE if report.drifted else FALSE,
        Reason.DRIFT_DETECTED if report.drifted else Reason.IN_SYNC,
        report.summary,
        generation,
        stamp,
    )
    return replace(status, infrastructure=infra, conditions=conditions)


def drift_event(before: ReleaseStatus, report: DriftReport) -> tuple[str, str] | None:
    """(reason, message) of the Warning to post: only when drift newly appears."""
    if report.drifted and not before.infrastructure.drift:
        return ConditionType.INFRASTRUCTURE_DRIFTED, report.summary
    return None


def http_check_finished(
    status: ReleaseStatus,
    action: RunHttpCheck,
    passed: bool,
    attempts: int,
    message: str,
    now: datetime,
) -> ReleaseStatus:
    entry = CheckStatus(
        name=action.check.name,
        stage=action.stage,
        kind=CheckKind.HTTP,
        revision=action.revision,
        phase=chk.PASSED if passed else chk.FAILED,
        attempts=attempts,
        message=message,
        time=format_time(now),
        run=action.run,
    )
    return replace(status, checks=chk.upsert(status.checks, entry))


def metric_check_finished(
    status: ReleaseStatus,
    action: RunMetricCheck,
    result: metric.QueryResult,
    baseline: metric.QueryResult | None,
    now: datetime,
) -> ReleaseStatus:
    """One evaluation of a metric check, added to its earlier ones (``metric.fold``)."""
    spec = action.check.metric
    assert spec is not None
    prior = chk.latest(status.checks, action.stage, action.check.name, action.revision)
    evaluation = metric.evaluate(spec, result, baseline)
    progress = metric.fold(spec, evaluation, prior, now)
    entry = CheckStatus(
        name=action.check.name,
        stage=action.stage,
        kind=CheckKind.METRIC,
        revision=action.revision,
        phase=progress.phase,
        attempts=(prior.attempts if prior and prior.phase != chk.PENDING else 0) + 1,
        message=progress.message,
        time=format_time(now),
        run=action.run,
        value=evaluation.value,
        baseline=evaluation.baseline,
        verdict=evaluation.verdict,
        failures=progress.failures,
        inconclusive_since=progress.inconclusive_since,
    )
    return replace(status, checks=chk.upsert(status.checks, entry))


def candidate_refused(
    status: ReleaseStatus,
    revision: str,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
) -> ReleaseStatus:
    """The API server refused an object the candidate needs (422): the spec is wrong.

    Retrying cannot help, so the revision fails at once and the release stalls
    with ``reason`` until the spec changes; what serves keeps serving.
    """
    stamp = format_time(now)
    conditions = set_condition(
        status.conditions, ConditionType.STALLED, TRUE, reason, message, generation, stamp
    )
    preview = status.preview if status.preview and status.preview.revision != revision else None
    serving = status.active is not None and status.active.revision == revision
    return replace(
        status,
        preview=preview,
        failed_revision=status.failed_revision if serving else revision,
        phase=status.phase if serving else Phase.FAILED,
        message=message,
        conditions=conditions,
    )


def job_refused(
    status: ReleaseStatus, action: CreateJob, message: str, generation: int, now: datetime
) -> ReleaseStatus:
    """A check Job the API server refused: a smoke check makes the spec invalid, a hold
    check fails its run (and the hold rolls back, as for any failed hold check). A
    hook's Job refused fails the hook, which the next decision acts on."""
    if action.stage in set(HookPoint):
        return _hook_refused(status, action, message, now)
    if action.stage == chk.SMOKE:
        return candidate_refused(
            status, action.revision, Reason.INVALID_CHECK, message, generation, now
        )
    entry = CheckStatus(
        name=action.check,
        stage=action.stage,
        kind=CheckKind.JOB,
        revision=action.revision,
        phase=chk.FAILED,
        attempts=1,
        message=message,
        time=format_time(now),
        run=action.run,
    )
    return replace(status, checks=chk.upsert(status.checks, entry))


def _hook_refused(
    status: ReleaseStatus, action: CreateJob, message: str, now: datetime
) -> ReleaseStatus:
    stamp = format_time(now)
    lines = [
        replace(h, phase=HookPhase.FAILED, message=message, finished_at=stamp)
        if (h.point, h.name, h.revision, h.attempt)
        == (action.stage, action.check, action.revision, action.run)
        else h
        for h in status.hooks
    ]
    return replace(status, hooks=tuple(lines))


STEP_FAILED = Reason.RECONCILE_FAILED
"""The reason on Ready and Reconciling while a step fails and is retried."""
STEP_FAILURE_MESSAGE_CHARS = 300


def step_failed(status: ReleaseStatus, error: str, generation: int, now: datetime) -> ReleaseStatus:
    """A step that raised: what it did is kept, and the failure is shown, not hidden.

    The step is retried with backoff, so this is not Stalled: Reconciling stays
    True (the operator is still working on it) and Ready is False with the cause.
    """
    stamp = format_time(now)
    message = f"step failed, retrying: {error}"[:STEP_FAILURE_MESSAGE_CHARS]
    conditions = status.conditions
    for kind, value in ((ConditionType.RECONCILING, TRUE), (ConditionType.READY, FALSE)):
        conditions = set_condition(conditions, kind, value, STEP_FAILED, message, generation, stamp)
    return replace(status, conditions=conditions)


def infrastructure_event(kind: str, error: str | None) -> EmitEvent:
    """The Event of an apply: ``<kind>Applied``, or ``<kind>Failed`` with its cause.

    ``kind`` names the backend as users know it (``Terraform``, ``Infrastructure``).
    """
    if error is None:
        return EmitEvent(EventType.NORMAL, f"{kind}Applied", "infrastructure applied")
    return EmitEvent(EventType.WARNING, f"{kind}Failed", error)
