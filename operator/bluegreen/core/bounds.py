"""Keep a release's status small whatever the spec, the checks or the humans wrote.

The API server refuses an object past its size limit, and a status that cannot
be written stops the release from recording progress. ``bound_status`` runs
once, right before every status write: it truncates free text, prunes check
results to the revisions still relevant and caps the history, then shrinks free
text further while the encoded status is still over ``STATUS_BUDGET_BYTES``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from bluegreen.core.human_actions import record_of
from bluegreen.core.status import (
    HISTORY_LIMIT,
    CheckStatus,
    Condition,
    HistoryEntry,
    HookStatus,
    ReleaseStatus,
)

MESSAGE_CHARS = 1024
"""The normal cap on any free-text field (messages, images, the raw action)."""
STATUS_BUDGET_BYTES = 60 * 1024
"""Below the 64 KiB promise, leaving room for fields added without a cap."""
TRUNCATED = " ...[truncated]"
HOOK_MEMORY = 24
"""Hook lines kept of revisions no longer live: a few releases' worth."""
CONDITION_LIMIT = 16
"""Nine condition types exist; anything beyond is junk written by hand."""
_SHRINKING_CAPS = (MESSAGE_CHARS, 256, 64)
_LAST_RESORT_CAP = 16
_LAST_RESORT_HISTORY = 3
_GO_ESCAPED = ("<", ">", "&")


def truncate(text: str, cap: int = MESSAGE_CHARS) -> str:
    """``text`` cut to ``cap`` characters, marked as cut; idempotent."""
    if len(text) <= cap:
        return text
    if cap <= len(TRUNCATED):
        return text[:cap]
    return text[: cap - len(TRUNCATED)] + TRUNCATED


def encoded_size(status: ReleaseStatus) -> int:
    """An upper bound of the bytes the API server stores for ``status``.

    ASCII-escaped JSON counts every non-ASCII character as 6 or 12 bytes (never
    less than UTF-8), and Go's encoder also escapes ``<``, ``>`` and ``&``.
    """
    return _encoded_size_of(status.to_dict())


def _encoded_size_of(raw: Mapping[str, Any]) -> int:
    text = json.dumps(raw, ensure_ascii=True, separators=(",", ":"))
    return len(text) + 5 * sum(text.count(c) for c in _GO_ESCAPED)


def bound_status(status: ReleaseStatus) -> ReleaseStatus:
    """``status`` with every list and free-text field bounded; pure and idempotent."""
    return bound_status_dict(status)[0]


def bound_status_dict(status: ReleaseStatus) -> tuple[ReleaseStatus, dict[str, Any]]:
    """``bound_status`` and its ``to_dict()``, which measuring its size already built."""
    pruned = replace(
        status,
        checks=prune_checks(status),
        hooks=prune_hooks(status),
        history=status.history[-HISTORY_LIMIT:],
        conditions=status.conditions[:CONDITION_LIMIT],
    )
    for cap in _SHRINKING_CAPS:
        bounded = _truncate_text(pruned, cap)
        raw = bounded.to_dict()
        if _encoded_size_of(raw) <= STATUS_BUDGET_BYTES:
            return bounded, raw
    # Only a status crafted to be huge gets here: keep what the state machine
    # needs (the in-flight revision's checks) and drop what only informs humans.
    in_flight = {status.revision, status.preview.revision if status.preview else ""}
    last = _truncate_text(
        replace(
            pruned,
            checks=tuple(c for c in pruned.checks if c.revision in in_flight),
            hooks=tuple(
                h
                for h in pruned.hooks
                if h.revision in in_flight or h.phase in ("Pending", "Running")
            ),
            history=pruned.history[-_LAST_RESORT_HISTORY:],
        ),
        _LAST_RESORT_CAP,
    )
    return last, last.to_dict()


def _live(status: ReleaseStatus) -> set[str]:
    """Revisions whose records stay: active, previous, candidate, desired, failed."""
    return {
        status.revision,
        status.failed_revision,
        *(block.revision for block in (status.active, status.previous, status.preview) if block),
    } - {""}


def prune_hooks(status: ReleaseStatus) -> tuple[HookStatus, ...]:
    """Hook lines of live revisions, and the latest ``HOOK_MEMORY`` of other revisions.

    A revision asked for again later must not run a hook that succeeded for it,
    nor reuse a failed attempt's Job name: the lines are that memory.
    """
    live = _live(status)
    others = [h for h in status.hooks if h.revision not in live][-HOOK_MEMORY:]
    return tuple(h for h in status.hooks if h.revision in live or h in others)


def prune_checks(status: ReleaseStatus) -> tuple[CheckStatus, ...]:
    """Check results of live revisions only, and the latest run per check.

    Live: active, previous, candidate, plus the desired and the failed revision
    (a retried revision's run numbers must keep counting, and a failure's
    checks tell why it failed).
    """
    live = {
        status.revision,
        status.failed_revision,
        *(block.revision for block in (status.active, status.previous, status.preview) if block),
    } - {""}
    latest: dict[tuple[str, str, str], CheckStatus] = {}
    for check in status.checks:
        if check.revision not in live:
            continue
        key = (check.stage, check.name, check.revision)
        kept = latest.get(key)
        if kept is None or check.run >= kept.run:
            latest[key] = check
    return tuple(c for c in status.checks if latest.get((c.stage, c.name, c.revision)) is c)


def _truncate_text(status: ReleaseStatus, cap: int) -> ReleaseStatus:
    last_action = status.last_action
    if last_action is not None:
        last_action = replace(
            last_action,
            # Never cut further: the record must keep matching its annotation.
            raw=record_of(last_action.raw),
            result=truncate(last_action.result, cap),
            action=truncate(last_action.action, cap),
        )
    return replace(
        status,
        message=truncate(status.message, cap),
        active=status.active and replace(status.active, image=truncate(status.active.image, cap)),
        preview=status.preview
        and replace(status.preview, image=truncate(status.preview.image, cap)),
        previous=status.previous
        and replace(status.previous, image=truncate(status.previous.image, cap)),
        checks=tuple(replace(c, message=truncate(c.message, cap)) for c in status.checks),
        hooks=tuple(replace(h, message=truncate(h.message, cap)) for h in status.hooks),
        infrastructure=replace(
            status.infrastructure, message=truncate(status.infrastructure.message, cap)
        ),
        conditions=_truncate_conditions(status.conditions, cap),
        history=_truncate_history(status.history, cap),
        last_action=last_action,
    )


def _truncate_conditions(conditions: Iterable[Condition], cap: int) -> tuple[Condition, ...]:
    return tuple(replace(c, message=truncate(c.message, cap)) for c in conditions)


def _truncate_history(history: Iterable[HistoryEntry], cap: int) -> tuple[HistoryEntry, ...]:
    return tuple(replace(h, image=truncate(h.image, cap)) for h in history)
