"""What deleting a release removes: pure answers for the finalizer.

Deletion must finish whatever state the release is in, so nothing here needs
a valid spec: when the spec no longer parses, the Services to destroy come from
what status recorded when the infrastructure was applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bluegreen.api import defaults
from bluegreen.api.enums import DeletionPolicy
from bluegreen.core import names
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


def own_workloads(objects: Iterable[Mapping[str, Any]], uid: str) -> list[str]:
    """Names of the Deployments or Jobs the release with ``uid`` controls."""
    return [
        str(obj["metadata"]["name"])
        for obj in objects
        if controlled_by(obj.get("metadata", {}).get("ownerReferences"), uid)
    ]


def own_services(services: Iterable[Mapping[str, Any]], release: str) -> list[str]:
    """Names of the Services the operator created for ``release`` (by their labels)."""
    return [
        str(svc["metadata"]["name"])
        for svc in services
        if service_owner(svc.get("metadata", {}).get("labels")) == release
    ]
