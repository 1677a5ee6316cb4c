"""kstatus condition vocabulary: types, statuses and the CamelCase reasons.

Reasons are what alerts and GitOps tools match on, so they are stable
constants; Events reuse them (DESIGN: TrafficSwitched, RolledBack, ...).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    INFRASTRUCTURE_READY = "InfrastructureReady"
    INFRASTRUCTURE_DRIFTED = "InfrastructureDrifted"
    CANDIDATE_READY = "CandidateReady"
    CHECKS_PASSED = "ChecksPassed"
    TRAFFIC_SWITCHED = "TrafficSwitched"
    SERVING = "Serving"
    ISOLATED = "Isolated"
    """False when a Service other than the release's own selects its pods."""
    DEGRADED = "Degraded"
    """True when a hook after the switch failed: traffic was left as it was."""


CONDITION_ORDER: Final = tuple(ConditionType)
"""The order conditions are kept in: the summary three first, as kstatus readers expect."""


class Reason(StrEnum):
    """Reasons of conditions and Events, besides the phase and condition type names
    they reuse (a Reconciling condition's reason is the phase in flight, Deploying;
    the TrafficSwitched Event announces the condition of that name)."""

    # A spec the operator cannot act on (Stalled).
    INVALID_SPEC = "InvalidSpec"
    INVALID_TEMPLATE = "InvalidTemplate"
    INVALID_SERVICE = "InvalidService"
    INVALID_INFRASTRUCTURE = "InvalidInfrastructure"
    INVALID_CHECK = "InvalidCheck"
    INVALID_HOOK = "InvalidHook"
    INVALID_NAME = "InvalidName"
    # The world refuses what the release asks (Stalled until it changes).
    SERVICE_NOT_OWNED = "ServiceNotOwned"
    DEPLOYMENT_NOT_OWNED = "DeploymentNotOwned"
    INFRASTRUCTURE_FAILED = "InfrastructureFailed"
    SELECTOR_DIVERGED = "SelectorDiverged"
    STATUS_REJECTED = "StatusRejected"
    STABLE_SERVICE_MISSING = "StableServiceMissing"
    # Progress of a release.
    CANDIDATE_CREATED = "CandidateCreated"
    CANDIDATE_MODIFIED = "CandidateModified"
    DEPLOYMENT_MODIFIED = "DeploymentModified"
    AVAILABLE = "Available"
    CHECK_PASSED = "CheckPassed"
    PASSED = "Passed"
    CONFIRMED = "Confirmed"
    RESTORING = "Restoring"
    RELEASED = "Released"
    SUCCEEDED = "Succeeded"
    PROGRESSING = "Progressing"
    PREVIOUS_DELETED = "PreviousDeleted"
    ACTION_CONSUMED = "ActionConsumed"
    # Failures and rollbacks.
    READINESS_TIMEOUT = "ReadinessTimeout"
    SMOKE_CHECK_FAILED = "SmokeCheckFailed"
    HOLD_CHECK_FAILED = "HoldCheckFailed"
    CONTAINERS_RESTARTING = "ContainersRestarting"
    """Containers of a revision restarted after it became available (a crash loop)."""
    SWITCH_TIMEOUT = "SwitchTimeout"
    PREVIEW_NOT_SETTLED = "PreviewNotSettled"
    """The preview Service did not come to reach the candidate alone in time: smoke
    checks through it would have reached other pods, so none ran."""
    RELEASE_FAILED = "ReleaseFailed"
    MANUAL_ROLLBACK = "ManualRollback"
    SPEC_REVERTED = "SpecReverted"
    ROLLBACK_STARTED = "RollbackStarted"
    RECONCILE_FAILED = "ReconcileFailed"
    """A step raised (an API or Terraform error): retried, shown on Ready and Reconciling."""
    ROLLBACK_WAITING = "RollbackWaiting"
    ROLLBACK_BLOCKED = "RollbackBlocked"
    PREVIOUS_GONE = "PreviousGone"
    SELECTOR_RESTORED = "SelectorRestored"
    # Serving and isolation.
    NOT_SERVED_YET = "NotServedYet"
    NO_READY_ENDPOINTS = "NoReadyEndpoints"
    NO_HEALTHY_ENDPOINTS = "NoHealthyEndpoints"
    SELECTED_BY_OTHER_SERVICE = "SelectedByOtherService"
    OWN_SERVICES_ONLY = "OwnServicesOnly"
    # Infrastructure.
    APPLIED = "Applied"
    APPLY_FAILED = "ApplyFailed"
    DRIFT_DETECTED = "DriftDetected"
    IN_SYNC = "InSync"
    CLEANUP_INCOMPLETE = "CleanupIncomplete"
    # Migration hooks.
    HOOK_FAILED = "HookFailed"
    HOOKS_SUCCEEDED = "HooksSucceeded"
    HOOK_STARTED = "HookStarted"
    HOOK_SUCCEEDED = "HookSucceeded"
