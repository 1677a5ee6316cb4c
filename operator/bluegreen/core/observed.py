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
    uid: str = ""
    """Deletes carry it as a precondition: never delete a look-alike re-created meanwhile."""
    resource_version: str = ""
    template_changed: bool = False
    """Someone changed the pod template after we created it: its pods are not the ones
    that were checked (the Deployment controller counts template changes in
    ``deployment.kubernetes.io/revision``; ours stay at 1, scaling does not count)."""
    restarts: int = 0
    """Container restarts summed over its pods (ours only): a crash loop shows here
    while readiness may still look fine between two crashes."""

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
    owned: bool = True
    """Created by the operator for this release (``core.ownership``); a Service that
    is not is never written."""
    adoptable: bool = False
    """Not ours, but a human annotated it to be handed over to this release."""
    uid: str = ""
    resource_version: str = ""
    """The selector patch is fenced on it: a Service changed since we looked is re-read."""

    @property
    def usable(self) -> bool:
        """The Service exists and the operator may write it."""
        return self.exists and self.owned


@dataclass(frozen=True)
class JobState:
    name: str
    revision: str
    succeeded: bool = False
    failed: bool = False
    message: str = ""
    uid: str = ""
    resource_version: str = ""


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
    preview_endpoints: Mapping[str, int] = field(default_factory=dict)
    """Ready endpoints of the preview Service per revision: where smoke checks land."""
    preview_unknown_endpoints: int = 0
    """Ready endpoints of the preview Service whose pod is none of this release's."""
    jobs: Mapping[str, JobState] = field(default_factory=dict)
    """Check Jobs of this release, keyed by Job name."""
    action: str | None = None
    """Raw value of the ``bluegreen.dev/action`` annotation, if any."""
    deleting: bool = False
    """The CR carries a deletionTimestamp."""
    foreign_deployments: frozenset[str] = frozenset()
    """Names of Deployments that look like this release's (name or labels) but are
    not controlled by it: never written, and a name among them is never created."""
    foreign_jobs: frozenset[str] = frozenset()
    """Job names taken by objects this release does not control."""
    exposing_services: tuple[str, ...] = ()
    """Other Services of the namespace whose selector matches the release's pods."""
