"""The closed sets of string values spec and status use.

``StrEnum`` members are ``str``: they compare equal to the plain strings read
back from the API server, so code holding either kind needs no conversion.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class Phase(StrEnum):
    """Values of ``status.phase``: where the current release stands."""

    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    DEPLOYING = "Deploying"
    VERIFYING = "Verifying"
    AWAITING_PROMOTION = "AwaitingPromotion"
    SWITCHING = "Switching"
    HOLDING = "Holding"
    COMPLETE = "Complete"
    FAILED = "Failed"
    ROLLED_BACK = "RolledBack"


IN_FLIGHT_PHASES: Final = frozenset(
    {
        Phase.PENDING,
        Phase.PROVISIONING,
        Phase.DEPLOYING,
        Phase.VERIFYING,
        Phase.AWAITING_PROMOTION,
        Phase.SWITCHING,
        Phase.HOLDING,
    }
)
FAILED_PHASES: Final = frozenset({Phase.FAILED, Phase.ROLLED_BACK})
"""Phases that need a human: GitOps tools and ``kubectl bluegreen status --wait`` fail on them."""
SUSPENDED_PHASE: Final = Phase.AWAITING_PROMOTION
"""The one phase that waits for a human on purpose (Argo CD shows it as Suspended)."""


class CheckPhase(StrEnum):
    """``status.checks[].phase``."""

    PENDING = "Pending"
    RUNNING = "Running"
    PASSED = "Passed"
    FAILED = "Failed"


class CheckStage(StrEnum):
    """When a check runs: against the candidate before the switch, or during the hold."""

    SMOKE = "smoke"
    HOLD = "hold"


class CheckKind(StrEnum):
    HTTP = "http"
    JOB = "job"
    METRIC = "metric"


class CheckResult(StrEnum):
    """The ``result`` label of ``bluegreen_checks_total``: how one run of a check ended."""

    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    """A metric check's evaluation without an answer (no data, no Prometheus)."""


class RunResult(StrEnum):
    """The ``result`` label of the reconcile and Terraform series: how a run ended.

    ``failed`` is the same word as in ``CheckResult``: one value means one thing
    across every series.
    """

    SUCCEEDED = "succeeded"
    FAILED = "failed"


class InfrastructureOperation(StrEnum):
    """The ``operation`` label of the Terraform series."""

    APPLY = "apply"
    PLAN = "plan"
    """The drift check: a plan that changes nothing."""
    DESTROY = "destroy"


class InconclusivePolicy(StrEnum):
    """``metric.onInconclusive``: what an evaluation without an answer counts as.

    Inconclusive means no data (an empty result, NaN) or no Prometheus (unreachable,
    timed out, an error of its own); a query Prometheus rejects is a failure.
    """

    WAIT = "Wait"
    """Neither pass nor fail: evaluate again; fail once inconclusive past the deadline."""
    FAIL = "Fail"
    """A failed evaluation (counted towards consecutiveFailures)."""
    PASS = "Pass"
    """A passed evaluation."""


class MetricVerdict(StrEnum):
    """``status.checks[].verdict``: what the last evaluation of a metric check said."""

    PASS = "Pass"
    FAIL = "Fail"
    INCONCLUSIVE = "Inconclusive"


class HookPoint(StrEnum):
    """When a migration hook runs (``spec.hooks``)."""

    PRE_SWITCH = "preSwitch"
    """Before the switch, after every smoke check passed: the expand step (only changes
    the serving revision keeps working with)."""
    POST_SWITCH = "postSwitch"
    """After the switch is confirmed, while the previous revision is held."""
    POST_CLEANUP = "postCleanup"
    """After the previous revision is deleted at the end of a hold: the contract step.
    Never after a rollback."""


class HookPhase(StrEnum):
    """``status.hooks[].phase``."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class Outcome(StrEnum):
    """``status.history[].outcome``: how a release ended."""

    PROMOTED = "Promoted"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"
    ABORTED = "Aborted"
    ROLLED_BACK = "RolledBack"


class ServiceType(StrEnum):
    """``spec.service.type``: the Service types the bundled module can create."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class DeletionPolicy(StrEnum):
    """``spec.infrastructure.deletionPolicy``: what deleting a release does to its
    infrastructure."""

    DELETE = "Delete"
    RETAIN = "Retain"


class EventType(StrEnum):
    """Kubernetes Event types."""

    NORMAL = "Normal"
    WARNING = "Warning"


def one_of(values: Iterable[str]) -> str:
    """``A, B or C``: an enumeration as the CRD's descriptions spell it."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
