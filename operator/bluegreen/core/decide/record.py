"""Small edits of the draft status that every step makes the same way."""

from __future__ import annotations

from bluegreen.core.conditions import set_condition
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.status import HISTORY_LIMIT, Candidate, HistoryEntry


def condition(
    view: ReleaseView, draft: Draft, kind: str, value: str, reason: str, message: str
) -> None:
    """Set one condition, stamped with this generation and decision time."""
    draft.set(
        conditions=set_condition(
            draft.status.conditions,
            kind,
            value,
            reason,
            message,
            view.ctx.generation,
            view.stamp,
        )
    )


def stall_once(draft: Draft, reason: str, message: str) -> None:
    """Stalled with ``reason``; the Warning Event only when the message is new.

    A stall is decided again on every event until a human acts: repeating its
    Event each time would bury the others.
    """
    draft.stalled = (reason, message)
    if draft.status.message != message:
        draft.event(reason, message, warning=True)
    draft.set(message=message)


def candidate_finished(view: ReleaseView, draft: Draft, candidate: Candidate, outcome: str) -> None:
    """Close the candidate's attempt in the history, keeping the last HISTORY_LIMIT."""
    entry = HistoryEntry(
        revision=candidate.revision,
        image=candidate.image,
        started_at=candidate.started_at,
        finished_at=view.stamp,
        outcome=outcome,
    )
    draft.set(history=(*draft.status.history, entry)[-HISTORY_LIMIT:])
