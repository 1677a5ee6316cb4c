"""What webhook receivers get when a release changes phase, and how a release asks for it.

The payload is API like the CRD: receivers (chat bridges, incident tools,
scripts) parse it, so its keys never change without a new ``apiVersion``.
Two forms: ``json`` (the fields below) and ``slack`` (``{"text": ...}``, which
Slack, Mattermost and most chat webhooks accept).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from bluegreen.api.enums import FAILED_PHASES, Phase
from bluegreen.api.v1alpha1 import API_VERSION, GROUP

NOTIFY_WEBHOOK_ANNOTATION: Final = f"{GROUP}/notify-webhook"
"""On a release: one more webhook for this release's notifications (an http(s) URL
whose host the operator was started to allow, ``--notify-allowed-hosts``)."""
NOTIFY_FORMAT_ANNOTATION: Final = f"{GROUP}/notify-format"
"""On a release: ``json`` (default) or ``slack``, for its own webhook."""
NOTIFICATION_KIND: Final = "BlueGreenReleaseNotification"
MAX_MESSAGE_CHARS: Final = 1024
"""Status messages are bounded already; a notification never carries more."""


class NotifyFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"


_PHASE_MARKS: Final[dict[str, str]] = {
    Phase.COMPLETE: ":white_check_mark:",
    Phase.FAILED: ":x:",
    Phase.ROLLED_BACK: ":leftwards_arrow_with_hook:",
    Phase.AWAITING_PROMOTION: ":raised_hand:",
}


@dataclass(frozen=True)
class Notification:
    """A release moved from one phase to another."""

    release: str
    namespace: str
    revision: str
    """The revision the spec asks for."""
    phase: str
    previous_phase: str
    reason: str
    """The reason of the condition that explains the phase (Stalled, else Ready)."""
    message: str
    time: str
    """When the operator recorded the new phase (RFC 3339)."""
    active_revision: str = ""
    """The revision the stable Service selects, if any."""

    @property
    def failed(self) -> bool:
        return self.phase in FAILED_PHASES

    def to_json(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": NOTIFICATION_KIND,
            "release": self.release,
            "namespace": self.namespace,
            "revision": self.revision,
            "phase": self.phase,
            "previousPhase": self.previous_phase,
            "reason": self.reason,
            "message": self.message[:MAX_MESSAGE_CHARS],
            "activeRevision": self.active_revision,
            "time": self.time,
        }

    def to_text(self) -> str:
        mark = _PHASE_MARKS.get(self.phase, ":large_blue_circle:")
        head = f"{mark} *{self.namespace}/{self.release}* {self.previous_phase} → *{self.phase}*"
        detail = f"revision `{self.revision or '-'}`"
        if self.active_revision and self.active_revision != self.revision:
            detail += f", serving `{self.active_revision}`"
        why = f"{self.reason}: {self.message}" if self.message else self.reason
        return f"{head} ({detail})\n{why[:MAX_MESSAGE_CHARS]}".rstrip()

    def body(self, form: str) -> dict[str, Any]:
        """The request body for a webhook of ``form``."""
        if form == NotifyFormat.SLACK:
            return {"text": self.to_text()}
        return self.to_json()
