"""What the reconciler saw in the cluster, as plain values for ``decide()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeploymentState:
    """One revision's Deployment as the API server reports it."""

    name: str
    revision: str
    image: str
    replicas: int
    """spec.replicas"""
    ready_replicas: int = 0
    available_replicas: int = 0
    updated_replicas: int = 0
    generation: int = 1
    observed_generation: int = 0
    deleting: bool = False

    @property
    def available(self) -> bool:
        """Every replica updated, ready and available, and the status is current."""
        return (
            not self.deleting
            and self.replicas > 0
            and self.observed_generation >= self.generation
            and self.updated_replicas >= self.replicas
            and self.ready_replicas >= self.replicas
            and self.available_replicas >= self.replicas
        )

    @property
    def fully_ready(self) -> bool:
        """All desired replicas are ready: the precondition of any switch."""
        return not self.deleting and self.replicas > 0 and self.ready_replicas >= self.replicas


@dataclass(frozen=True)
class ServiceState:
    name: str
    exists: bool
    selector: Mapping[str, str] | None = None
    cluster_ip: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class JobState:
    name: str
    revision: str
    succeeded: bool = False
    failed: bool = False
    message: str = ""


@dataclass(frozen=True)
class Observed:
    """A snapshot of everything decide() may look at, taken at one reconcile."""

    generation: int
    deployments: Mapping[str, DeploymentState] = field(default_factory=dict)
    """This release's Deployments, keyed by revision."""
    stable: ServiceState | None = None
    preview: ServiceState | None = None
    stable_endpoints: Mapping[str, int] = field(default_factory=dict)
    """Ready endpoints of the stable Service per revision (from EndpointSlices)."""
    stable_unknown_endpoints: int = 0
    """Ready endpoints whose pod is not one of this release's revisions."""
    jobs: Mapping[str, JobState] = field(default_factory=dict)
    """Check Jobs of this release, keyed by Job name."""
    action: str | None = None
    """Raw value of the ``bluegreen.dev/action`` annotation, if any."""
    deleting: bool = False
    """The CR carries a deletionTimestamp."""
