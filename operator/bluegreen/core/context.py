"""Who the release is and how the operator is configured: fixed inputs of decide()."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleaseContext:
    name: str
    namespace: str
    uid: str
    generation: int
    module_checksum: str = ""
    """Digest of the infrastructure module; a change re-applies it."""
    drift_interval_seconds: float = 0
    """How often to plan for drift while idle; 0 turns drift detection off."""
    infrastructure_retry_seconds: float = 60
    """Back-off before re-applying inputs that failed."""
    switch_confirm_requeue_seconds: float = 2
    """Safety net while waiting for EndpointSlices; their watch usually wakes us first."""
    switch_timeout_seconds: float = 120
    """How long a switch may take to show in EndpointSlices before it is undone."""
    drain_seconds: float = 0
    """A revision the Service moved away from keeps its pods at least this long, so
    kube-proxy on every node has updated its rules before the pods go away."""
