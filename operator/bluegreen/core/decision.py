"""The value decide() returns, and the draft it is built with."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from bluegreen.api.enums import EventType
from bluegreen.core.actions import Action, EmitEvent
from bluegreen.core.status import ReleaseStatus


class SwitchKind(enum.Enum):
    CONFIRMED = "confirmed"
    """A forward switch shows in EndpointSlices: the new revision alone serves."""
    ROLLBACK = "rollback"
    """The stable Service was sent back to the held previous revision."""


@dataclass(frozen=True)
class SwitchRecord:
    """A traffic move this decision made or confirmed: what metrics count, from core,
    instead of being read back from Event reasons."""

    kind: SwitchKind
    revision: str
    reason: str = ""
    """Why a rollback happened (ManualRollback, HoldCheckFailed, SwitchTimeout, ...)."""
    release_seconds: float | None = None
    """On a confirmed forward switch: from the candidate's creation to the switch."""


@dataclass(frozen=True)
class Decision:
    """What to do now, the status to write afterwards, and when to look again."""

    status: ReleaseStatus
    actions: tuple[Action, ...] = ()
    requeue_after: float | None = None
    """Seconds until a deadline needs a look; None waits for the next watch event."""
    continue_now: bool = False
    """Another step can run right after these actions (the loop is bounded)."""
    switches: tuple[SwitchRecord, ...] = ()

    def only_observes(self, stored: ReleaseStatus) -> bool:
        """Nothing acted on and the phase kept: the status it writes only records what
        was observed, which the next step observes again. Such a write may give way to
        news (``reconciler.loop``); one that records an action never does."""
        return not self.actions and self.status.phase == stored.phase


@dataclass
class Draft:
    """A mutable builder local to one decide() call; it never escapes as such."""

    status: ReleaseStatus
    actions: list[Action] = field(default_factory=list)
    requeue_after: float | None = None
    continue_now: bool = False
    stalled: tuple[str, str] | None = None
    """(reason, message) when a human is needed."""
    progress: tuple[str, str] | None = None
    """(reason, message) describing what is in flight."""
    switches: list[SwitchRecord] = field(default_factory=list)

    def set(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)

    def act(self, *actions: Action) -> None:
        self.actions.extend(actions)

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.actions.append(
            EmitEvent(EventType.WARNING if warning else EventType.NORMAL, reason, message)
        )

    def wake_in(self, seconds: float) -> None:
        seconds = max(seconds, 0.5)
        self.requeue_after = (
            seconds if self.requeue_after is None else min(self.requeue_after, seconds)
        )
