"""``lastAction.result`` keeps its text format; the outcome is read back from it alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bluegreen.core.decide.action_result import ActionOutcome, ActionResult, recorded_outcome


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (ActionResult.rejected("no hold in progress"), "Rejected: no hold in progress"),
        (ActionResult.rejected(), "Rejected"),
        (ActionResult.pending("waiting for shop"), "Pending: waiting for shop"),
        (ActionResult.applied("Rolled back to abc123"), "Rolled back to abc123"),
        (
            ActionResult.applied("Hold extended to 2026-01-01T12:00:00Z"),
            "Hold extended to 2026-01-01T12:00:00Z",
        ),
    ],
)
def test_text_is_the_recorded_format(result: ActionResult, text: str) -> None:
    assert result.text == text
    assert recorded_outcome(text) is result.outcome


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("Rejected: unknown action 'x'", ActionOutcome.REJECTED),
        ("Pending: ManualRollback: rolling back to abc once ready", ActionOutcome.PENDING),
        ("Rolled back or superseded", ActionOutcome.APPLIED),
        ("Approved revision abc", ActionOutcome.APPLIED),
        ("Aborted revision abc", ActionOutcome.APPLIED),
        ("", ActionOutcome.APPLIED),
    ],
)
def test_outcome_of_stored_texts(text: str, outcome: ActionOutcome) -> None:
    """Status written by an earlier operator version is read the same way."""
    assert recorded_outcome(text) is outcome


@given(
    outcome=st.sampled_from([ActionOutcome.REJECTED, ActionOutcome.PENDING]),
    message=st.text(max_size=80),
)
def test_prefixed_outcomes_survive_the_round_trip(outcome: ActionOutcome, message: str) -> None:
    result = ActionResult(outcome, message)
    assert recorded_outcome(result.text) is outcome
    assert result.text.startswith(outcome.value)
