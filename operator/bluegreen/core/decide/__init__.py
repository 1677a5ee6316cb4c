"""The release state machine: ``decide(ctx, raw_spec, status, observed, now)``.

This function has no side effects: it never awaits, never reads the clock and
never calls an API. It looks at the spec, the stored status and a snapshot of
the cluster, and returns a frozen Decision: the actions to carry out, the
status to write after them, and when to look again. Because every decision is
derived from stored status plus live observation, running it again after a
crash at any instant leads to the same end state.

The modules of this package each decide one concern (``steps`` gives their
order); ``summary`` derives the kstatus conditions from what they found.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bluegreen.core.context import ReleaseContext
from bluegreen.core.decide import steps
from bluegreen.core.decide.candidate import FAILURE_CONDITIONS
from bluegreen.core.decide.human import refuse_action
from bluegreen.core.decide.provisioning import (
    build_infrastructure_inputs,
    infrastructure_inputs_for,
)
from bluegreen.core.decide.settled import STANDING_STALLS
from bluegreen.core.decide.summary import summarize
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Decision, Draft
from bluegreen.core.errors import SpecError
from bluegreen.core.observed import Observed
from bluegreen.core.spec import parse_spec
from bluegreen.core.status import Phase, ReleaseStatus
from bluegreen.core.timefmt import format_time

__all__ = [
    "FAILURE_CONDITIONS",
    "STANDING_STALLS",
    "build_infrastructure_inputs",
    "decide",
    "infrastructure_inputs_for",
]


def decide(
    ctx: ReleaseContext,
    raw_spec: Mapping[str, Any],
    status: ReleaseStatus,
    observed: Observed,
    now: datetime,
) -> Decision:
    """Decide the next step of one release. Pure: same inputs, same Decision."""
    draft = Draft(status=status)
    draft.set(observed_generation=ctx.generation)
    try:
        spec = parse_spec(raw_spec)
    except SpecError as err:
        draft.stalled = (err.reason, err.message)
        if status.message != err.message:
            draft.event(err.reason, err.message, warning=True)
        draft.set(message=err.message, phase=Phase.FAILED)
        why = f"the spec is invalid ({err.reason})"
        refuse_action(draft, observed.action, format_time(now), why)
        return summarize(ctx, draft, observed, now, status, spec_parsed=False)
    steps.run(ReleaseView.of(ctx, spec, observed, now), draft)
    return summarize(ctx, draft, observed, now, status, spec_parsed=True)
