"""Actions ``decide()`` asks for; the reconciler carries them out in order.

Each action is a frozen value. Actions that produce a result (Terraform,
checks) have it folded back into status by ``core.results``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.core.infrastructure import InfrastructureInputs
from bluegreen.core.metric_checks import MetricQuery
from bluegreen.core.spec import Check


@dataclass(frozen=True)
class ApplyInfrastructure:
    inputs: InfrastructureInputs
    inputs_hash: str


@dataclass(frozen=True)
class CheckDrift:
    inputs: InfrastructureInputs


@dataclass(frozen=True)
class DestroyInfrastructure:
    inputs: InfrastructureInputs


@dataclass(frozen=True)
class CreateDeployment:
    manifest: Mapping[str, Any]


@dataclass(frozen=True)
class ScaleDeployment:
    name: str
    replicas: int


@dataclass(frozen=True)
class DeleteDeployment:
    name: str
    revision: str
    uid: str = ""
    """The observed object's uid, sent as a delete precondition."""
    resource_version: str = ""
    """The observed resourceVersion, a precondition too: an object changed since it was
    observed is not deleted; the next step looks again."""


@dataclass(frozen=True)
class PatchSelector:
    """Point a Service at one revision: the only write the operator makes to a Service."""

    service: str
    selector: Mapping[str, str]
    revision: str
    stable: bool
    """True for the stable Service: a traffic switch, with its Event and metric."""
    uid: str = ""
    resource_version: str = ""
    """The Service as observed: the patch applies only if it is unchanged since."""
    ready_deployment: str = ""
    """When set, the Deployment is read again right before the patch, which is
    skipped unless every replica is ready and its template is still ours."""


@dataclass(frozen=True)
class RunHttpCheck:
    check: Check
    stage: str
    revision: str
    url: str
    run: int


@dataclass(frozen=True)
class RunMetricCheck:
    """Evaluate a metric check once: its query, and the previous revision's when the
    condition compares with it (``baseline``; None when it does not, or on a first
    release). ``core.results.metric_check_finished`` folds the answers in."""

    check: Check
    stage: str
    revision: str
    run: int
    query: MetricQuery
    baseline: MetricQuery | None = None


@dataclass(frozen=True)
class CreateJob:
    manifest: Mapping[str, Any]
    check: str = ""
    stage: str = ""
    revision: str = ""
    run: int = 0
    """Which check run the Job is: a Job the API server refuses fails that run."""


@dataclass(frozen=True)
class DeleteJob:
    """Delete one finished check Job of ours (``uid`` is the delete precondition)."""

    name: str
    uid: str
    resource_version: str = ""


@dataclass(frozen=True)
class DeleteService:
    """Delete one Service the operator created for the release (only when it goes)."""

    name: str
    uid: str
    """The observed object's uid, sent as a delete precondition."""
    resource_version: str = ""


@dataclass(frozen=True)
class DeleteJobs:
    """Delete this release's check Jobs of revisions other than ``keep_revisions``."""

    keep_revisions: frozenset[str]


@dataclass(frozen=True)
class ClearActionAnnotation:
    raw: str


@dataclass(frozen=True)
class EmitEvent:
    type: str
    """Normal or Warning."""
    reason: str
    message: str


Action = (
    ApplyInfrastructure
    | CheckDrift
    | DestroyInfrastructure
    | CreateDeployment
    | ScaleDeployment
    | DeleteDeployment
    | PatchSelector
    | RunHttpCheck
    | RunMetricCheck
    | CreateJob
    | DeleteJob
    | DeleteJobs
    | DeleteService
    | ClearActionAnnotation
    | EmitEvent
)
