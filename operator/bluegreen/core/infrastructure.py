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
    target_port: int
    preview_service_name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    extra_variables: Mapping[str, Any] = field(default_factory=dict)
    """``spec.infrastructure.terraform.variables``: they override derived ones."""

    def terraform_variables(self) -> dict[str, Any]:
        """The module's variables: the user's, then those the operator derives.

        Derived identity variables always win: a release must never be able to
        place Services in another namespace or under another release's name.
        """
        identity = {
            "release_name": self.release,
            "namespace": self.namespace,
            "create_namespace": self.create_namespace,
            "service_name": self.service_name,
            "preview_service_name": self.preview_service_name,
        }
        derived: dict[str, Any] = {
            "release_name": self.release,
            "namespace": self.namespace,
            "create_namespace": self.create_namespace,
            "service_name": self.service_name,
            "service_type": self.service_type,
            "service_port": self.service_port,
            "target_port": self.target_port,
            "preview_service_name": self.preview_service_name,
            "labels": dict(self.labels),
        }
        derived.update(self.extra_variables)
        derived.update(identity)
        return derived

    def state_key(self) -> str:
        """A name unique per release, usable as Terraform's ``secret_suffix``."""
        return f"{self.release_namespace}-{self.release}"


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
