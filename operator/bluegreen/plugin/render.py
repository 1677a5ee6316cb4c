"""Pure text rendering of a release: no I/O, no clock (``now`` comes in)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bluegreen.api.timefmt import format_time
from bluegreen.plugin.resource import (
    Obj,
    generation,
    mapping,
    mappings,
    observed_generation,
    parse_time,
    status,
    text,
)

NONE = "-"


def format_duration(seconds: float) -> str:
    """kubectl-style short duration: 45s, 3m12s, 2h5m, 3d4h."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def age(value: object, now: datetime) -> str:
    """How long ago a timestamp was; "-" when absent, "in 5s" if in the future."""
    when = parse_time(value)
    if when is None:
        return NONE
    delta = (now - when).total_seconds()
    if delta < 0:
        return f"in {format_duration(-delta)}"
    return format_duration(delta)


def ago(value: object, now: datetime) -> str:
    """Like ``age`` but reads as a sentence: "5m ago", "in 5s" or "-"."""
    how_long = age(value, now)
    if how_long == NONE or how_long.startswith("in "):
        return how_long
    return f"{how_long} ago"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    all_rows = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(headers) - 1)]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        cells.append(row[-1])
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines)


def replicas(block: Obj) -> str:
    ready = block.get("readyReplicas")
    desired = block.get("replicas")
    if ready is None and desired is None:
        return NONE
    return f"{text(ready, '0')}/{text(desired, '?')}"


def hold_countdown(previous: Obj, now: datetime) -> str:
    """Time left before the previous revision may be deleted, from ``deleteAfter``."""
    delete_after = parse_time(previous.get("deleteAfter"))
    if delete_after is None:
        return NONE
    left = (delete_after - now).total_seconds()
    stamp = format_time(delete_after)
    if left <= 0:
        return f"hold over, deletion due (deleteAfter {stamp})"
    return f"{format_duration(left)} left (deleteAfter {stamp})"


def deadline_countdown(preview: Obj, now: datetime) -> str:
    deadline = parse_time(preview.get("deadline"))
    if deadline is None:
        return NONE
    left = (deadline - now).total_seconds()
    if left <= 0:
        return f"passed {format_duration(-left)} ago"
    return f"{format_duration(left)} left"


def _block(title: str, block: Obj, extra: Sequence[tuple[str, str]]) -> list[str]:
    if not block:
        return [f"{title}:", f"  {NONE}"]
    fields = [
        ("Revision", text(block.get("revision"), NONE)),
        ("Deployment", text(block.get("deployment"), NONE)),
        ("Image", text(block.get("image"), NONE)),
        *extra,
    ]
    return [f"{title}:", *[f"  {label + ':':<12}{value}" for label, value in fields]]


def _checks(state: Obj, now: datetime) -> list[str]:
    checks = mappings(state.get("checks"))
    if not checks:
        return ["Checks:", f"  {NONE}"]
    rows = [
        [
            text(c.get("name"), NONE),
            text(c.get("stage"), NONE),
            text(c.get("kind"), NONE),
            text(c.get("phase"), NONE),
            text(c.get("attempts"), "0"),
            age(c.get("time"), now),
            text(c.get("message")),
        ]
        for c in checks
    ]
    headers = ["NAME", "STAGE", "KIND", "PHASE", "ATTEMPTS", "AGE", "MESSAGE"]
    return ["Checks:", table(headers, rows, indent="  ")]


def _conditions(state: Obj, now: datetime) -> list[str]:
    conditions = mappings(state.get("conditions"))
    if not conditions:
        return ["Conditions:", f"  {NONE}"]
    rows = [
        [
            text(c.get("type"), NONE),
            text(c.get("status"), NONE),
            text(c.get("reason"), NONE),
            age(c.get("lastTransitionTime"), now),
            text(c.get("message")),
        ]
        for c in conditions
    ]
    headers = ["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"]
    return ["Conditions:", table(headers, rows, indent="  ")]


def _infrastructure(state: Obj, now: datetime) -> str:
    infra = mapping(state.get("infrastructure"))
    if not infra:
        return f"Infrastructure: {NONE}"
    parts = ["applied" if infra.get("applied") else "not applied"]
    if infra.get("inputsHash"):
        parts.append(f"inputs {text(infra.get('inputsHash'))[:12]}")
    if infra.get("lastApplyTime"):
        parts.append(f"last apply {ago(infra.get('lastApplyTime'), now)}")
    if infra.get("drift"):
        parts.append("DRIFT detected")
    line = "Infrastructure: " + ", ".join(parts)
    # The last Terraform error is the one thing an SRE needs when applied is false.
    if infra.get("message"):
        line += f"\n  last error: {text(infra.get('message'))}"
    return line


def _last_action(state: Obj, now: datetime) -> str:
    action = mapping(state.get("lastAction"))
    if not action:
        return f"Last action: {NONE}"
    name = text(action.get("action"), NONE)
    revision = text(action.get("revision"))
    result = text(action.get("result"), NONE)
    target = f" {revision}" if revision else ""
    return f"Last action: {name}{target} -> {result} ({ago(action.get('time'), now)})"


def _generation_line(obj: Obj) -> str:
    observed = observed_generation(obj)
    current = generation(obj)
    line = f"Generation:  {text(current, '?')} (observed {text(observed, 'none')})"
    if observed != current:
        line += "  status is stale: the operator has not caught up with the spec"
    return line


def render_status(obj: Obj, now: datetime) -> str:
    """The whole ``kubectl bluegreen status`` page for one release."""
    meta = mapping(obj.get("metadata"))
    state = status(obj)
    previous = mapping(state.get("previous"))
    preview = mapping(state.get("preview"))
    active = mapping(state.get("active"))
    lines = [
        f"Name:        {text(meta.get('name'), NONE)}",
        f"Namespace:   {text(meta.get('namespace'), NONE)}",
        f"Phase:       {text(state.get('phase'), 'Unknown')}",
        f"Revision:    {text(state.get('revision'), NONE)}",
        _generation_line(obj),
        f"Message:     {text(state.get('message'), NONE)}",
        f"Approved:    {text(state.get('approvedRevision'), NONE)}",
        "",
        *_block(
            "Active",
            active,
            [("Ready", replicas(active)), ("Switched", ago(active.get("switchedAt"), now))],
        ),
        *_block(
            "Preview",
            preview,
            [("Ready", replicas(preview)), ("Deadline", deadline_countdown(preview, now))],
        ),
        *_block("Previous", previous, [("Hold", hold_countdown(previous, now))]),
        "",
        *_checks(state, now),
        "",
        *_conditions(state, now),
        "",
        _infrastructure(state, now),
        _last_action(state, now),
    ]
    return "\n".join(lines)


def render_history(obj: Obj, now: datetime) -> str:
    """``status.history`` as a table, in the order the operator keeps it."""
    history = mappings(status(obj).get("history"))
    if not history:
        return "No releases recorded yet."
    rows = []
    for entry in history:
        started = parse_time(entry.get("startedAt"))
        finished = parse_time(entry.get("finishedAt"))
        took = NONE
        if started is not None and finished is not None:
            took = format_duration((finished - started).total_seconds())
        rows.append(
            [
                text(entry.get("revision"), NONE),
                text(entry.get("image"), NONE),
                ago(entry.get("startedAt"), now),
                took,
                text(entry.get("outcome"), "InProgress" if finished is None else NONE),
            ]
        )
    return table(["REVISION", "IMAGE", "STARTED", "DURATION", "OUTCOME"], rows)
