"""kstatus conditions: stamped with the generation, moved only when they change.

Ready, Reconciling and Stalled are derived together from one place
(``summary_conditions``) so they can never contradict each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from bluegreen.api.conditions import CONDITION_ORDER, ConditionStatus, ConditionType
from bluegreen.core.status import Condition

__all__ = ["FALSE", "ORDER", "TRUE", "UNKNOWN", "ConditionType", "is_true", "set_condition"]

TRUE, FALSE, UNKNOWN = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN
ORDER = CONDITION_ORDER


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
