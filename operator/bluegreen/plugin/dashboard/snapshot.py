"""What the page shows, as JSON: every release of the scope with its timeline and Events.

Pure: the objects the watches hold and ``now`` in, a JSON-ready dict out. The
page only lays this out; it computes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bluegreen.api.timefmt import format_time
from bluegreen.plugin.dashboard.svg import render_svg
from bluegreen.plugin.dashboard.timeline import EventRecord, build_timeline, events_of
from bluegreen.plugin.render import NONE, age, ago, hold_countdown, replicas
from bluegreen.plugin.resource import Obj, mapping, mappings, status, text
from bluegreen.plugin.verdict import verdict

EVENTS_SHOWN: Final = 15
"""Per release, newest first."""


@dataclass(frozen=True)
class Scope:
    """Whose releases the page shows and through which context."""

    namespace: str | None
    """None: every namespace (``-A``)."""
    context: str
    server: str

    def describe(self) -> str:
        return "all namespaces" if self.namespace is None else f"namespace {self.namespace}"


def _key(obj: Obj) -> tuple[str, str]:
    meta = mapping(obj.get("metadata"))
    return text(meta.get("namespace")), text(meta.get("name"))


def _event(record: EventRecord, now: datetime) -> dict[str, Any]:
    return {
        "time": format_time(record.time),
        "ago": ago(format_time(record.time), now),
        "type": record.type,
        "reason": record.reason,
        "message": record.message,
        "count": record.count,
    }


def release_view(obj: Obj, events: Iterable[Obj], now: datetime) -> dict[str, Any]:
    """One release's card."""
    namespace, name = _key(obj)
    state = status(obj)
    active, previous = mapping(state.get("active")), mapping(state.get("previous"))
    preview = mapping(state.get("preview"))
    records = events_of(obj, events)
    return {
        "key": f"{namespace}/{name}",
        "namespace": namespace,
        "name": name,
        "phase": text(state.get("phase"), "Unknown"),
        "message": text(state.get("message")),
        "verdict": verdict(obj).value,
        "revisions": {
            "desired": text(state.get("revision"), NONE),
            "active": text(active.get("revision"), NONE),
            "preview": text(preview.get("revision"), NONE),
            "previous": text(previous.get("revision"), NONE),
        },
        "image": text(active.get("image") or preview.get("image"), NONE),
        "ready": replicas(active),
        "hold": hold_countdown(previous, now) if previous else NONE,
        "age": age(mapping(obj.get("metadata")).get("creationTimestamp"), now),
        "conditions": [
            {
                "type": text(c.get("type")),
                "status": text(c.get("status")),
                "reason": text(c.get("reason")),
                "message": text(c.get("message")),
            }
            for c in mappings(state.get("conditions"))
        ],
        "timeline": render_svg(build_timeline(obj, records, now)),
        "events": [_event(r, now) for r in reversed(records[-EVENTS_SHOWN:])],
    }


def _by_release(events: Iterable[Obj]) -> dict[tuple[str, str], list[Obj]]:
    index: dict[tuple[str, str], list[Obj]] = {}
    for event in events:
        about = mapping(event.get("involvedObject"))
        key = (text(about.get("namespace")), text(about.get("name")))
        index.setdefault(key, []).append(event)
    return index


def snapshot(
    scope: Scope,
    releases: Iterable[Obj],
    events: Iterable[Obj],
    problems: Sequence[str],
    now: datetime,
    *,
    loading: bool = False,
) -> dict[str, Any]:
    """The whole page: releases sorted by namespace and name, and what could not be read."""
    index = _by_release(events)
    return {
        "scope": scope.describe(),
        "context": scope.context,
        "server": scope.server,
        "generatedAt": format_time(now),
        "loading": loading,
        "problems": list(problems),
        "releases": [
            release_view(obj, index.get(_key(obj), ()), now) for obj in sorted(releases, key=_key)
        ],
    }
