"""What a release asks of its base infrastructure, as plain values.

The infrastructure port (``bluegreen.adapters.infrastructure``) turns these
inputs into a namespace and two Services; Terraform is one implementation.
Keeping the inputs pure lets ``decide()`` compare their hash with the last
applied one and run Terraform only when something really changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bluegreen.core import names


@dataclass(frozen=True)
class InfrastructureInputs:
    """Inputs of the bundled Terraform module for one release."""

    release: str
    """Name of the BlueGreenRelease; one Terraform state per release."""
    release_namespace: str
    """Namespace of the BlueGreenRelease; with ``release`` it names the state."""
    namespace: str
    """Namespace the Services live in (the release's own)."""
    create_namespace: bool
    """Whether Terraform creates (and on destroy deletes) ``namespace``."""
    service_name: str
    service_type: str
    service_port: int
    target_port: int | str
    """A container port number or an IANA service name (a named container port)."""
    preview_service_name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    extra_variables: Mapping[str, Any] = field(default_factory=dict)
    """``spec.infrastructure.terraform.variables``: only for variables the operator
    does not derive; derived ones always win."""

    def terraform_variables(self) -> dict[str, Any]:
        """The module's variables: the user's, overridden by every one the operator derives.

        Identity variables must win so a release can never place Services in
        another namespace or under another release's name; the Service's shape
        (type, ports, labels) must win so the Services are the ones the spec
        describes and status reports.
        """
        derived: dict[str, Any] = {
            "release_name": self.release,
            "namespace": self.namespace,
            "create_namespace": self.create_namespace,
            "service_name": self.service_name,
            "service_type": self.service_type,
            "service_port": self.service_port,
            # The module takes a string: a port number or a named container port.
            "target_port": str(self.target_port),
            "preview_service_name": self.preview_service_name,
            "labels": dict(self.labels),
        }
        return {**self.extra_variables, **derived}

    def state_key(self) -> str:
        """Terraform's ``secret_suffix`` and the working directory's name: one per release."""
        return names.state_key(self.release_namespace, self.release)

    def legacy_state_key(self) -> str:
        """The key older versions used; state found under it is migrated (``core.tfstate``)."""
        return names.legacy_state_key(self.release_namespace, self.release)


def inputs_hash(inputs: InfrastructureInputs, module_checksum: str) -> str:
    """A stable digest of everything that can change what Terraform would do."""
    canonical = json.dumps(
        {"variables": inputs.terraform_variables(), "module": module_checksum},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class InfrastructureOutputs:
    """What the module reports back; copied into ``status.infrastructure.outputs``."""

    stable_service: str
    preview_service: str
    stable_cluster_ip: str | None = None
    preview_cluster_ip: str | None = None

    def as_status(self) -> dict[str, str]:
        out = {"stableService": self.stable_service, "previewService": self.preview_service}
        if self.stable_cluster_ip:
            out["stableClusterIP"] = self.stable_cluster_ip
        if self.preview_cluster_ip:
            out["previewClusterIP"] = self.preview_cluster_ip
        return out


@dataclass(frozen=True)
class DriftReport:
    """Result of a plan without apply."""

    drifted: bool
    summary: str = ""
