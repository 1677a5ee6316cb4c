"""The infrastructure port: how the reconciler gets a release's namespace and Services.

Two implementations exist: Terraform (``terraform.py``, the default) and plain
Kubernetes (``kube_infrastructure.py``, for clusters without the Terraform
toolchain). Swapping one for the other is a change of this one seam.
"""

from __future__ import annotations

from typing import Protocol

from bluegreen.core.infrastructure import DriftReport, InfrastructureInputs, InfrastructureOutputs


class InfrastructureError(Exception):
    """Provisioning failed; ``str(err)`` is a short, secret-free summary for status."""


class Infrastructure(Protocol):
    """Creates, checks and removes a release's base infrastructure. Idempotent."""

    module_checksum: str
    """Digest of the module source; part of the inputs hash (``core.infrastructure``)."""

    async def apply(self, inputs: InfrastructureInputs) -> InfrastructureOutputs:
        """Bring the infrastructure to ``inputs``; never touches a Service's selector."""
        ...

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        """Compare live objects with ``inputs`` without changing anything."""
        ...

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        """Remove what ``apply`` created."""
        ...
