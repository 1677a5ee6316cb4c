"""What became of a human action, and the one place it is turned into status text.

Users and scripts read ``status.lastAction.result`` ("Rejected: ...", "Pending:
...", "Rolled back to X"), so its text format is fixed; the steps work with the
outcome instead of comparing text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ActionOutcome(enum.Enum):
    APPLIED = "Applied"
    """Acted on, or (a pending rollback) settled otherwise: the message says how."""
    REJECTED = "Rejected"
    """Not acted on, and never will be."""
    PENDING = "Pending"
    """Accepted, waiting for the world (a rollback waiting for a Service): retried."""


_PREFIXED = (ActionOutcome.REJECTED, ActionOutcome.PENDING)
"""Outcomes whose name leads the recorded text; an applied action's text is its message."""


@dataclass(frozen=True)
class ActionResult:
    outcome: ActionOutcome
    message: str = ""

    @staticmethod
    def applied(message: str) -> ActionResult:
        return ActionResult(ActionOutcome.APPLIED, message)

    @staticmethod
    def rejected(message: str = "") -> ActionResult:
        return ActionResult(ActionOutcome.REJECTED, message)

    @staticmethod
    def pending(message: str) -> ActionResult:
        return ActionResult(ActionOutcome.PENDING, message)

    @property
    def text(self) -> str:
        """As ``status.lastAction.result`` records it."""
        if self.outcome not in _PREFIXED:
            return self.message
        name = self.outcome.value
        return f"{name}: {self.message}" if self.message else name


def recorded_outcome(text: str) -> ActionOutcome:
    """The outcome a recorded ``lastAction.result`` stands for (the inverse of ``text``)."""
    for outcome in _PREFIXED:
        if text.startswith(outcome.value):
            return outcome
    return ActionOutcome.APPLIED
