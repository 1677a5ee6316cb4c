"""kstatus conditions: stamped with the generation, moved only when they change.

Ready, Reconciling and Stalled are derived together from one place
(``summary_conditions``) so they can never contradict each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from bluegreen.core.status import Condition

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


class ConditionType:
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


ORDER = (
    ConditionType.READY,
    ConditionType.RECONCILING,
    ConditionType.STALLED,
    ConditionType.INFRASTRUCTURE_READY,
    ConditionType.INFRASTRUCTURE_DRIFTED,
    ConditionType.CANDIDATE_READY,
    ConditionType.CHECKS_PASSED,
    ConditionType.TRAFFIC_SWITCHED,
    ConditionType.SERVING,
    ConditionType.ISOLATED,
)


def set_condition(
    conditions: Iterable[Condition],
    kind: str,
    status: str,
    reason: str,
    message: str,
    generation: int,
    now: str,
) -> tuple[Condition, ...]:
    """Return conditions with ``kind`` set; lastTransitionTime moves only on a status flip."""
    existing = {c.type: c for c in conditions}
    old = existing.get(kind)
    transition = old.last_transition_time if old and old.status == status else now
    existing[kind] = Condition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=transition or now,
        observed_generation=generation,
    )
    ordered = [existing.pop(k) for k in ORDER if k in existing]
    return (*ordered, *sorted(existing.values(), key=lambda c: c.type))


def is_true(conditions: Iterable[Condition], kind: str) -> bool:
    return any(c.type == kind and c.status == TRUE for c in conditions)
