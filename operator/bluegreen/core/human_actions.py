"""What a human action does to the hold deadline; its grammar lives in ``bluegreen.api``.

The annotation's parse and encode sit together in ``bluegreen.api.human_actions``
(the plugin writes what the operator reads); they are re-exported here so core
keeps importing them from core.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from bluegreen.api.human_actions import (
    KNOWN,
    MAX_ACTION_CHARS,
    ActionVerb,
    HumanAction,
    argument_problem,
    hold_extension_seconds,
    parse_action,
)
from bluegreen.api.limits import MAX_HOLD_SECONDS

__all__ = [
    "KNOWN",
    "MAX_ACTION_CHARS",
    "ActionVerb",
    "HumanAction",
    "argument_problem",
    "extended_deadline",
    "hold_extension_seconds",
    "parse_action",
    "record_of",
]

RECORD_CHARS = MAX_ACTION_CHARS
"""Values up to this long are recorded verbatim: every value ``parse_action`` reads."""
_RECORD_PREFIX_CHARS = 48


def record_of(raw: str) -> str:
    """How ``status.lastAction.raw`` records the annotation's value ``raw``.

    Verbatim when short; a longer value as its start, its length and a digest.
    The record must identify the value it stands for exactly and stay small at
    any status size: a record that no longer matches its annotation would make
    every step consume the same action again. Idempotent, so records bounded
    again (``bound_status``) stay the same.
    """
    if len(raw) <= RECORD_CHARS:
        return raw
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{raw[:_RECORD_PREFIX_CHARS]} ...[{len(raw)} chars, sha256 {digest}]"


def extended_deadline(current: datetime, seconds: int, now: datetime) -> datetime | None:
    """``current`` pushed ``seconds`` later, never beyond ``now + MAX_HOLD_SECONDS``.

    The same bound as ``hold.seconds``: a hold cannot be stretched without end by
    repeating the action. None when the deadline is at the bound already. Only
    bounded differences are added, so no value can overflow ``datetime``.
    """
    limit = now + timedelta(seconds=MAX_HOLD_SECONDS)
    if current >= limit:
        return None
    # current < limit and seconds <= MAX_HOLD_SECONDS: the sum stays near now.
    return min(current + timedelta(seconds=seconds), limit)
