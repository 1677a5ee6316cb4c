"""Human actions as the one annotation the operator consumes. Pure.

Actions travel in ``metadata.annotations`` rather than the spec so that a
GitOps tool syncing the spec never reverts or fights them.
"""

from __future__ import annotations

import re
from typing import Any

from bluegreen.api.enums import SUSPENDED_PHASE
from bluegreen.api.human_actions import ActionVerb, encode_action, with_nonce
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION
from bluegreen.plugin.resource import Obj, is_current, status, text


class ActionError(ValueError):
    """The action cannot be sent as asked; the message says why."""


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_seconds(value: str) -> int:
    """A positive number of seconds: ``600``, ``600s``, ``10m`` or ``1h30m``."""
    cleaned = value.strip()
    if cleaned.isascii() and cleaned.isdigit():
        total = int(cleaned)
    else:
        match = _DURATION.match(cleaned)
        if not cleaned or match is None:
            raise ActionError(f"{value!r} is not a duration (use 600, 600s, 10m or 1h30m)")
        hours, minutes, seconds = (int(group or 0) for group in match.groups())
        total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ActionError("the hold extension must be longer than 0 seconds")
    return total


def promote(obj: Obj) -> str:
    """Approve exactly the revision the operator reports, never "whatever is next".

    Refuses while status is stale: its revision may belong to a superseded spec,
    and approving that one would approve nothing, or the wrong thing.
    """
    revision = text(status(obj).get("revision"))
    if not revision:
        raise ActionError("the release has no revision in status yet; nothing to promote")
    if not is_current(obj):
        raise ActionError(
            "the operator has not observed the latest spec yet; "
            "promote once status.observedGeneration matches metadata.generation"
        )
    return encode_action(ActionVerb.PROMOTE, revision)


def abort() -> str:
    return encode_action(ActionVerb.ABORT)


def rollback() -> str:
    return encode_action(ActionVerb.ROLLBACK)


def extend_hold(seconds: int) -> str:
    if seconds <= 0:
        raise ActionError("the hold extension must be longer than 0 seconds")
    return encode_action(ActionVerb.EXTEND_HOLD, seconds)


def annotation_patch(action: str, nonce: str) -> dict[str, Any]:
    """A JSON merge patch that touches only our annotation.

    The ``@nonce`` suffix makes each request a new value: repeating an action
    (a second ``extend-hold:600``, say) must reach the operator, and writing an
    unchanged annotation would not even produce a watch event.
    """
    try:
        value = with_nonce(action, nonce)
    except ValueError as err:
        raise ActionError(str(err)) from None
    return {"metadata": {"annotations": {ACTION_ANNOTATION: value}}}


def promote_warning(obj: Obj) -> str | None:
    """A note for the human when the approval will not take effect at once."""
    phase = text(status(obj).get("phase"), "Unknown")
    if phase == SUSPENDED_PHASE:
        return None
    return (
        f"note: phase is {phase}, not {SUSPENDED_PHASE}; "
        "status.lastAction will show how the operator handled the approval"
    )
