"""The release's infrastructure (its Services, through Terraform): apply, drift, failure."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bluegreen.core import names
from bluegreen.core.actions import ApplyInfrastructure, CheckDrift
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.infrastructure import InfrastructureInputs, inputs_hash
from bluegreen.core.spec import ReleaseSpec, parse_spec
from bluegreen.core.status import Phase
from bluegreen.core.timefmt import parse_time

APPLYING_MESSAGE = "applying infrastructure"
"""``status.message`` while an apply runs; it never names why a release failed."""


class InfrastructureState(enum.Enum):
    READY = "ready"
    APPLYING = "applying"
    """An apply or a drift check is queued, or a first apply failed: nothing else runs."""
    FAILING = "failing"
    """Applying changed inputs failed while a revision serves: it keeps serving."""


def provision(view: ReleaseView, draft: Draft) -> InfrastructureState:
    """Apply the module when its inputs changed or a Service is missing; retry failures."""
    inputs = build_infrastructure_inputs(view.ctx, view.spec)
    wanted = inputs_hash(inputs, view.ctx.module_checksum)
    infra = draft.status.infrastructure
    # Missing, or foreign but handed over (adopt annotation): the module takes it.
    missing = any(
        service is None or not service.usable
        for service in (view.observed.stable, view.observed.preview)
    )
    if infra.inputs_hash == wanted and not missing:
        if _check_drift_if_due(view, draft, inputs):
            return InfrastructureState.APPLYING
        return InfrastructureState.READY
    first = draft.status.active is None
    if infra.failed_inputs_hash == wanted:
        failed_at = view.time(infra.last_failure_time)
        retry_at = failed_at + timedelta(seconds=view.ctx.infrastructure_retry_seconds)
        if view.now < retry_at:
            draft.stalled = ("InfrastructureFailed", infra.message)
            draft.wake_in(view.seconds_until(retry_at))
            if first:
                draft.set(phase=Phase.FAILED)
                return InfrastructureState.APPLYING
            return InfrastructureState.FAILING
    if first or missing:
        # Not Complete while a Service is missing: status never claims more than is true.
        draft.set(phase=Phase.PROVISIONING, message=APPLYING_MESSAGE)
    draft.progress = ("Provisioning", "applying the infrastructure module")
    draft.act(ApplyInfrastructure(inputs=inputs, inputs_hash=wanted))
    draft.continue_now = True
    return InfrastructureState.APPLYING


def _check_drift_if_due(view: ReleaseView, draft: Draft, inputs: InfrastructureInputs) -> bool:
    """Plan for drift every interval while the release is idle. True when one is queued."""
    interval = view.ctx.drift_interval_seconds
    status = draft.status
    if interval <= 0 or status.phase not in (Phase.COMPLETE,):
        return False
    last = parse_time(status.infrastructure.last_drift_check_time)
    last = last or parse_time(status.infrastructure.last_apply_time)
    due = (last or view.now) + timedelta(seconds=interval)
    if view.now < due:
        draft.wake_in(view.seconds_until(due))
        return False
    draft.act(CheckDrift(inputs))
    draft.continue_now = True
    return True


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
