"""Folding the results of actions back into status (pure).

Terraform runs and checks produce results; the reconciler hands each one to
the matching function here, then writes the returned status.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bluegreen.core import checks as chk
from bluegreen.core.actions import RunHttpCheck
from bluegreen.core.conditions import FALSE, TRUE, ConditionType, set_condition
from bluegreen.core.infrastructure import DriftReport, InfrastructureOutputs
from bluegreen.core.status import CheckStatus, InfrastructureStatus, ReleaseStatus
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
        "Applied",
        "infrastructure applied",
        generation,
        stamp,
    )
    conditions = set_condition(
        conditions, ConditionType.INFRASTRUCTURE_DRIFTED, FALSE, "InSync", "", generation, stamp
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
        "ApplyFailed",
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
        "DriftDetected" if report.drifted else "InSync",
        report.summary,
        generation,
        stamp,
    )
    return replace(status, infrastructure=infra, conditions=conditions)


def drift_event(before: ReleaseStatus, report: DriftReport) -> tuple[str, str] | None:
    """(reason, message) of the Warning to post: only when drift newly appears."""
    if report.drifted and not before.infrastructure.drift:
        return "InfrastructureDrifted", report.summary
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
        kind="http",
        revision=action.revision,
        phase=chk.PASSED if passed else chk.FAILED,
        attempts=attempts,
        message=message,
        time=format_time(now),
        run=action.run,
    )
    return replace(status, checks=chk.upsert(status.checks, entry))
