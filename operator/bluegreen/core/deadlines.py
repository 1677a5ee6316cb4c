"""The deadline of a release's current phase, from its status. Pure.

A release past its deadline should have moved on by itself (failed, or
collected the previous revision); one that has not is stuck, which the alert
``BlueGreenReleasePastDeadline`` (manifests/monitoring/) reports from the
metric the reconciler sets from this.
"""

from __future__ import annotations

from datetime import datetime

from bluegreen.api.enums import Phase
from bluegreen.api.status import ReleaseStatus
from bluegreen.api.timefmt import parse_time_or_none


def phase_deadline(status: ReleaseStatus) -> datetime | None:
    """The readiness deadline while a candidate deploys, the end of the hold while
    holding; None for phases without one (checks, the promotion gate, the end states)."""
    if status.phase == Phase.DEPLOYING and status.preview is not None:
        return parse_time_or_none(status.preview.deadline)
    if status.phase == Phase.HOLDING and status.previous is not None:
        return parse_time_or_none(status.previous.delete_after)
    return None
