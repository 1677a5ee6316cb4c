"""Pure text for the plugin's tables and countdowns: no I/O, no clock (``now`` comes in).

The ``status`` tree is in ``tree``; this module has what it and the tables share.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bluegreen.api.timefmt import format_time
from bluegreen.plugin.resource import (
    Obj,
    mapping,
    mappings,
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


def render_list(objs: Sequence[Obj], now: datetime, all_namespaces: bool) -> str:
    """``kubectl bluegreen list``: one row per release, sorted like kubectl sorts."""
    if not objs:
        return "No releases found."
    rows = []
    for obj in sorted(
        objs,
        key=lambda o: (
            text(mapping(o.get("metadata")).get("namespace")),
            text(mapping(o.get("metadata")).get("name")),
        ),
    ):
        meta = mapping(obj.get("metadata"))
        state = status(obj)
        active, previous = mapping(state.get("active")), mapping(state.get("previous"))
        preview = mapping(state.get("preview"))
        row = [
            text(meta.get("name"), NONE),
            text(state.get("phase"), "Unknown"),
            text(state.get("revision"), NONE),
            text(active.get("revision"), NONE),
            text(preview.get("revision"), NONE),
            text(previous.get("revision"), NONE),
            replicas(active),
            hold_countdown_short(previous, now),
            age(meta.get("creationTimestamp"), now),
        ]
        if all_namespaces:
            row.insert(0, text(meta.get("namespace"), NONE))
        rows.append(row)
    headers = ["NAME", "PHASE", "DESIRED", "ACTIVE", "PREVIEW", "PREVIOUS", "READY", "HOLD", "AGE"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    return table(headers, rows)


def hold_countdown_short(previous: Obj, now: datetime) -> str:
    delete_after = parse_time(previous.get("deleteAfter"))
    if delete_after is None:
        return NONE
    left = (delete_after - now).total_seconds()
    return format_duration(left) if left > 0 else "over"
