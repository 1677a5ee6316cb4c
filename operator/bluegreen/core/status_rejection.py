"""A status write the API server refused: how it is recorded and recognised.

When status cannot be written, progress cannot be recorded, and acting anyway
would repeat the same steps forever (creating the candidate, forgetting it,
creating it again). So the refusal is recorded in a minimal write (Stalled,
reason ``StatusRejected``, for the current generation) and the release takes
no action until its spec changes, which bumps the generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bluegreen.api.conditions import Reason
from bluegreen.core.bounds import truncate
from bluegreen.core.conditions import FALSE, TRUE, ConditionType, set_condition
from bluegreen.core.status import Condition, ReleaseStatus

REASON = Reason.STATUS_REJECTED
REFUSED_STATUS_CODES = frozenset({400, 413, 422})
"""Bad request (body too large), entity too large, unprocessable (invalid or denied)."""


def is_refusal(code: int, message: str) -> bool:
    """Whether an API error means this status will never be accepted as it is."""
    return code in REFUSED_STATUS_CODES or "too large" in message.lower()


def rejection_patch(
    raw_status: Mapping[str, Any] | None, generation: int, message: str, now: str
) -> dict[str, Any]:
    """The minimal status merge patch recording a refused write.

    It keeps the stored conditions and only changes Ready, Reconciling and
    Stalled: stored status no longer tells the truth about progress.
    """
    text = truncate(f"the API server refused the status write: {message}")
    conditions = ReleaseStatus.from_dict(raw_status).conditions
    for kind, value in (
        (ConditionType.STALLED, TRUE),
        (ConditionType.READY, FALSE),
        (ConditionType.RECONCILING, FALSE),
    ):
        conditions = set_condition(conditions, kind, value, REASON, text, generation, now)
    return {"observedGeneration": generation, "conditions": [c.to_dict() for c in conditions]}


def writes_refused(raw_status: Mapping[str, Any] | None, generation: int) -> bool:
    """True when status records a refused write for this very generation.

    Asked before every step: only the conditions are read, not the whole status.
    """
    conditions = (raw_status or {}).get("conditions") or ()
    stalled = next(
        (
            Condition.from_dict(c)
            for c in conditions
            if isinstance(c, Mapping) and c.get("type") == ConditionType.STALLED
        ),
        None,
    )
    return (
        stalled is not None
        and stalled.status == TRUE
        and stalled.reason == REASON
        and stalled.observed_generation == generation
    )
