"""What deleting a release removes, as actions the finalizer carries out.

Deletion must finish whatever state the release is in, so nothing here needs
a valid spec: when the spec no longer parses, the Services to destroy come from
what status recorded when the infrastructure was applied. The order is the
finalizer's (``reconciler/cleanup.py``): workloads (Jobs first, they target the
Deployments' pods), then the infrastructure, then any Service of ours a destroy
missed, then one Event naming what could not be done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bluegreen.api import defaults
from bluegreen.api.conditions import Reason
from bluegreen.api.enums import DeletionPolicy, EventType
from bluegreen.api.v1alpha1 import REVISION_LABEL
from bluegreen.core import names
from bluegreen.core.actions import (
    DeleteDeployment,
    DeleteJob,
    DeleteService,
    DestroyInfrastructure,
    EmitEvent,
)
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decide import infrastructure_inputs_for
from bluegreen.core.errors import SpecError
from bluegreen.core.infrastructure import InfrastructureInputs
from bluegreen.core.ownership import controlled_by, service_owner
from bluegreen.core.status import ReleaseStatus

RETAIN = DeletionPolicy.RETAIN
_PLACEHOLDER_PORT = 80
"""Destroy ignores ports and type, but the module validates every variable it gets."""


def retains_infrastructure(raw_spec: Mapping[str, Any]) -> bool:
    """True for ``deletionPolicy: Retain``; read without parsing the rest of the spec."""
    infrastructure = raw_spec.get("infrastructure")
    if not isinstance(infrastructure, Mapping):
        return False
    return infrastructure.get("deletionPolicy") == RETAIN


def infrastructure_was_attempted(status: ReleaseStatus) -> bool:
    """Whether an apply ever ran (even one that failed half-way): then there is state."""
    infra = status.infrastructure
    return infra.applied or bool(infra.inputs_hash or infra.failed_inputs_hash or infra.outputs)


def destroy_inputs(
    ctx: ReleaseContext, raw_spec: Mapping[str, Any], status: ReleaseStatus
) -> InfrastructureInputs | None:
    """The inputs to destroy with: the spec's, else status's outputs, else None."""
    try:
        return infrastructure_inputs_for(ctx, raw_spec)
    except (SpecError, TypeError, ValueError):
        # parse_spec reports bad specs as SpecError; the others guard deletion
        # against a spec shape it did not foresee: deletion must still finish.
        pass
    outputs = status.infrastructure.outputs
    stable, preview = outputs.get("stableService"), outputs.get("previewService")
    if not stable or not preview:
        return None
    return InfrastructureInputs(
        release=ctx.name,
        release_namespace=ctx.namespace,
        namespace=ctx.namespace,
        create_namespace=False,
        service_name=stable,
        service_type=defaults.SERVICE_TYPE,
        service_port=_PLACEHOLDER_PORT,
        target_port=_PLACEHOLDER_PORT,
        preview_service_name=preview,
        labels=names.release_labels(ctx.name),
    )


def own_services(services: Iterable[Mapping[str, Any]], release: str) -> list[str]:
    """Names of the Services the operator created for ``release`` (by their labels)."""
    return [
        str(svc["metadata"]["name"])
        for svc in services
        if service_owner(svc.get("metadata", {}).get("labels")) == release
    ]


@dataclass(frozen=True)
class InfrastructureRemoval:
    """How a release's infrastructure goes when the release does."""

    destroy: DestroyInfrastructure | None = None
    sweep_services: bool = False
    """Afterwards, delete the Services labelled as ours: what a destroy missed or
    could not reach (with its state deleted by hand, Terraform knows of nothing
    to destroy while the Services still stand)."""
    problem: str = ""
    """Known before acting: why the Services are deleted directly, not destroyed."""


NO_INPUTS = "no infrastructure inputs in the spec or status to destroy with"


def workload_removals(
    jobs: Iterable[Mapping[str, Any]], deployments: Iterable[Mapping[str, Any]], uid: str
) -> tuple[DeleteJob | DeleteDeployment, ...]:
    """Delete the Jobs, then the Deployments, that the release with ``uid`` controls."""
    removals: list[DeleteJob | DeleteDeployment] = [
        DeleteJob(
            name=str(job["metadata"]["name"]),
            uid=str(job["metadata"].get("uid", "")),
            resource_version=str(job["metadata"].get("resourceVersion", "")),
        )
        for job in _controlled(jobs, uid)
    ]
    for deployment in _controlled(deployments, uid):
        meta = deployment["metadata"]
        removals.append(
            DeleteDeployment(
                name=str(meta["name"]),
                revision=str((meta.get("labels") or {}).get(REVISION_LABEL, "")),
                uid=str(meta.get("uid", "")),
                resource_version=str(meta.get("resourceVersion", "")),
            )
        )
    return tuple(removals)


def infrastructure_removal(
    ctx: ReleaseContext, raw_spec: Mapping[str, Any], status: ReleaseStatus
) -> InfrastructureRemoval:
    """Destroy what an apply created, per ``deletionPolicy``."""
    if retains_infrastructure(raw_spec):
        return InfrastructureRemoval()
    if not infrastructure_was_attempted(status):
        return InfrastructureRemoval(sweep_services=True)
    inputs = destroy_inputs(ctx, raw_spec, status)
    if inputs is None:
        return InfrastructureRemoval(sweep_services=True, problem=NO_INPUTS)
    return InfrastructureRemoval(destroy=DestroyInfrastructure(inputs), sweep_services=True)


def service_removals(
    services: Iterable[Mapping[str, Any]], release: str
) -> tuple[DeleteService, ...]:
    """Delete the Services the operator created for ``release``, each by its uid."""
    listed = list(services)
    wanted = set(own_services(listed, release))
    return tuple(
        DeleteService(
            name=str(svc["metadata"]["name"]),
            uid=str(svc["metadata"].get("uid", "")),
            resource_version=str(svc["metadata"].get("resourceVersion", "")),
        )
        for svc in listed
        if str(svc["metadata"]["name"]) in wanted
    )


def cleanup_report(problems: Sequence[str]) -> EmitEvent | None:
    """One Warning naming everything the finalizer could not do, or nothing."""
    if not problems:
        return None
    return EmitEvent(EventType.WARNING, Reason.CLEANUP_INCOMPLETE, "; ".join(problems))


def _controlled(objects: Iterable[Mapping[str, Any]], uid: str) -> list[Mapping[str, Any]]:
    return [
        obj for obj in objects if controlled_by(obj.get("metadata", {}).get("ownerReferences"), uid)
    ]
