"""The recent releases of one BlueGreenRelease as steps in time. Pure: ``now`` comes in.

One lane per release attempt (``status.history``, plus the candidate in flight):
spans for deploy, checks and hold, marks for the switch, each check result, a
rollback, a failure, the previous revision's deletion. What status keeps
(history, the candidate, the active and previous revisions, check results) is
completed by the release's Events, which are matched to an attempt by time:
an Event belongs to the latest attempt started before it. Events expire (an
hour by default): an old attempt then shows what its history entry says only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from bluegreen.api.enums import CheckPhase, CheckStage, EventType, Outcome
from bluegreen.api.timefmt import format_time
from bluegreen.api.v1alpha1 import KIND
from bluegreen.plugin.render import format_duration
from bluegreen.plugin.resource import Obj, integer, mapping, mappings, parse_time, status, text

LANES: Final = 5
"""Attempts drawn: the in-flight one and the last finished ones."""
IN_PROGRESS: Final = "InProgress"
SKEW: Final = timedelta(seconds=1)
"""Status and Event times have second precision and come from different writes."""
READY_REASON: Final = "CandidateReady"
SWITCH_REASON: Final = "TrafficSwitched"
ROLLBACK_REASONS: Final = frozenset({"RollbackStarted", "RolledBack"})
CLEANUP_REASON: Final = "PreviousDeleted"


class StepKind(StrEnum):
    DEPLOY = "deploy"
    CHECKS = "checks"
    """From the candidate's readiness to the switch: smoke checks, the gate, hooks."""
    HOLD = "hold"
    SWITCH = "switch"
    CHECK = "check"
    """One check's latest result."""
    ROLLBACK = "rollback"
    FAILED = "failed"
    STOPPED = "stopped"
    """Superseded by a newer spec, or aborted."""
    CLEANUP = "cleanup"
    """The previous revision deleted at the end of the hold."""


SPANS: Final = frozenset({StepKind.DEPLOY, StepKind.CHECKS, StepKind.HOLD})


@dataclass(frozen=True)
class Step:
    kind: StepKind
    start: datetime
    end: datetime
    """Equal to ``start`` for a mark; ``now`` for a span still going on."""
    label: str
    ongoing: bool = False
    failed: bool = False


@dataclass(frozen=True)
class Lane:
    revision: str
    image: str
    outcome: str
    """A history outcome (Promoted, Failed, ...) or InProgress."""
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Timeline:
    name: str
    start: datetime
    end: datetime
    lanes: tuple[Lane, ...]


@dataclass(frozen=True)
class EventRecord:
    """An Event of the release, reduced to what the page shows."""

    time: datetime
    type: str
    reason: str
    message: str
    count: int = 1


def event_time(event: Obj) -> datetime | None:
    """When an Event last happened: core/v1 and events.k8s.io writers fill different fields."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        moment = parse_time(event.get(key))
        if moment is not None:
            return moment
    return parse_time(mapping(event.get("metadata")).get("creationTimestamp"))


def events_of(release: Obj, events: Iterable[Obj]) -> list[EventRecord]:
    """The Events about ``release``, oldest first.

    An Event of an earlier release of the same name (deleted, then created again)
    carries another uid and is left out.
    """
    meta = mapping(release.get("metadata"))
    name, namespace, uid = (
        text(meta.get("name")),
        text(meta.get("namespace")),
        text(meta.get("uid")),
    )
    found = []
    for event in events:
        about = mapping(event.get("involvedObject"))
        if text(about.get("kind")) != KIND or text(about.get("name")) != name:
            continue
        if text(about.get("namespace")) != namespace:
            continue
        if uid and text(about.get("uid")) not in ("", uid):
            continue
        moment = event_time(event)
        if moment is None:
            continue
        found.append(
            EventRecord(
                time=moment,
                type=text(event.get("type"), EventType.NORMAL),
                reason=text(event.get("reason")),
                message=text(event.get("message")),
                count=integer(event.get("count")) or 1,
            )
        )
    return sorted(found, key=lambda e: e.time)


@dataclass(frozen=True)
class _Attempt:
    revision: str
    image: str
    started: datetime
    finished: datetime | None
    outcome: str


def _attempts(state: Obj, limit: int) -> list[_Attempt]:
    found: list[_Attempt] = []
    for entry in mappings(state.get("history")):
        started = parse_time(entry.get("startedAt"))
        if started is None:
            continue
        finished = parse_time(entry.get("finishedAt"))
        outcome = text(entry.get("outcome"), IN_PROGRESS if finished is None else "")
        revision, image = text(entry.get("revision")), text(entry.get("image"))
        found.append(_Attempt(revision, image, started, finished, outcome))
    preview = mapping(state.get("preview"))
    started = parse_time(preview.get("startedAt"))
    revision = text(preview.get("revision"))
    if started is not None and not any(
        a.revision == revision and a.started == started for a in found
    ):
        found.append(_Attempt(revision, text(preview.get("image")), started, None, IN_PROGRESS))
    found.sort(key=lambda a: a.started)
    return found[-limit:]


def _first(
    events: Sequence[EventRecord], reasons: Iterable[str], after: datetime
) -> EventRecord | None:
    wanted = frozenset(reasons)
    return next((e for e in events if e.reason in wanted and e.time >= after), None)


def _ready_time(
    attempt: _Attempt, state: Obj, events: Sequence[EventRecord], deployment: str, end: datetime
) -> datetime | None:
    """When the candidate became Available, within the attempt (clamped to it)."""
    preview = mapping(state.get("preview"))
    ready = None
    if text(preview.get("revision")) == attempt.revision:
        ready = parse_time(preview.get("readyAt"))
    if ready is None or ready < attempt.started - SKEW:
        # Its Event names the Deployment: looked for among all of the release's Events,
        # as attempts a second long share their stamps with the next one.
        ready = next(
            (
                e.time
                for e in events
                if e.reason == READY_REASON
                and deployment in e.message
                and attempt.started - SKEW <= e.time <= end + SKEW
            ),
            None,
        )
    return None if ready is None else min(max(ready, attempt.started), end)


def _check_marks(
    state: Obj, revision: str, stage: str, start: datetime, end: datetime
) -> list[Step]:
    marks = []
    for check in mappings(state.get("checks")):
        if text(check.get("revision")) != revision or text(check.get("stage")) != stage:
            continue
        moment = parse_time(check.get("time"))
        if moment is None or not start - SKEW <= moment <= end + SKEW:
            continue
        phase = text(check.get("phase"), CheckPhase.PENDING)
        label = f"{stage} check {text(check.get('name'), '?')}: {phase}"
        message = text(check.get("message"))
        marks.append(
            Step(
                StepKind.CHECK,
                moment,
                moment,
                f"{label} ({message})" if message else label,
                ongoing=phase in (CheckPhase.PENDING, CheckPhase.RUNNING),
                failed=phase == CheckPhase.FAILED,
            )
        )
    return marks


def _span(kind: StepKind, start: datetime, end: datetime, what: str, **flags: bool) -> Step:
    took = format_duration((end - start).total_seconds())
    return Step(kind, start, max(start, end), f"{what}: {took}", **flags)


def _hold(
    attempt: _Attempt,
    switched: datetime,
    state: Obj,
    events: Sequence[EventRecord],
    now: datetime,
    latest_promoted: bool,
) -> list[Step]:
    rollback = _first(events, ROLLBACK_REASONS, switched)
    cleanup = _first(events, (CLEANUP_REASON,), switched)
    if rollback is not None and (cleanup is None or rollback.time <= cleanup.time):
        return [
            _span(StepKind.HOLD, switched, rollback.time, "hold", failed=True),
            *_check_marks(state, attempt.revision, CheckStage.HOLD, switched, rollback.time),
            Step(
                StepKind.ROLLBACK,
                rollback.time,
                rollback.time,
                f"rollback: {rollback.message}" if rollback.message else "rollback",
                failed=True,
            ),
        ]
    if cleanup is not None:
        return [
            _span(StepKind.HOLD, switched, cleanup.time, "hold"),
            *_check_marks(state, attempt.revision, CheckStage.HOLD, switched, cleanup.time),
            Step(
                StepKind.CLEANUP, cleanup.time, cleanup.time, cleanup.message or "previous deleted"
            ),
        ]
    active, previous = mapping(state.get("active")), mapping(state.get("previous"))
    holding = (
        latest_promoted
        and text(active.get("revision")) == attempt.revision
        and bool(text(previous.get("revision")))
        and previous.get("draining") is not True
    )
    if not holding:
        return []
    span = _span(StepKind.HOLD, switched, max(now, switched), "hold", ongoing=True)
    due = parse_time(previous.get("deleteAfter"))
    if due is not None:
        left = (due - now).total_seconds()
        until = f"ends in {format_duration(left)}" if left > 0 else "over"
        span = Step(span.kind, span.start, span.end, f"{span.label} so far, {until}", ongoing=True)
    return [span, *_check_marks(state, attempt.revision, CheckStage.HOLD, switched, now)]


def _switch_time(
    attempt: _Attempt, events: Sequence[EventRecord], finished: datetime
) -> datetime | None:
    """When traffic reached this revision, for an attempt whose history entry was closed
    later (a rollback closes it when it switches back), from its TrafficSwitched Event."""
    if attempt.outcome == Outcome.PROMOTED:
        return finished  # the entry is closed by the switch itself
    if attempt.outcome != Outcome.ROLLED_BACK:
        return None
    return next(
        (
            e.time
            for e in events
            if e.reason == SWITCH_REASON
            and f" {attempt.revision} " in f" {e.message} "
            and attempt.started - SKEW <= e.time <= finished + SKEW
        ),
        None,
    )


def _before_switch(
    attempt: _Attempt, deployment: str, ready: datetime | None, until: datetime, failed: bool
) -> list[Step]:
    """Deploy, then checks and promotion, up to ``until`` (the switch, the end, or now)."""
    ongoing = attempt.finished is None
    what = f"deploy {deployment}"
    if ready is None:
        return [
            _span(StepKind.DEPLOY, attempt.started, until, what, ongoing=ongoing, failed=failed)
        ]
    return [
        _span(StepKind.DEPLOY, attempt.started, ready, what),
        _span(
            StepKind.CHECKS, ready, until, "checks and promotion", ongoing=ongoing, failed=failed
        ),
    ]


def _rolled_back(
    attempt: _Attempt,
    switched: datetime,
    finished: datetime,
    state: Obj,
    events: Sequence[EventRecord],
) -> list[Step]:
    started = _first(events, ROLLBACK_REASONS, switched)
    why = started.message if started is not None else text(state.get("message"))
    return [
        _span(StepKind.HOLD, switched, finished, "hold", failed=True),
        *_check_marks(state, attempt.revision, CheckStage.HOLD, switched, finished),
        Step(
            StepKind.ROLLBACK,
            finished,
            finished,
            f"rollback: {why}" if why else "rollback",
            failed=True,
        ),
    ]


def _lane(
    attempt: _Attempt,
    name: str,
    state: Obj,
    events: Sequence[EventRecord],
    every: Sequence[EventRecord],
    now: datetime,
    latest_promoted: bool,
) -> Lane:
    """``events``: those of this attempt; ``every``: all of the release's."""
    deployment = f"{name}-{attempt.revision}"
    end = attempt.finished or max(now, attempt.started)
    failed = attempt.outcome in (Outcome.FAILED, Outcome.ABORTED)
    ready = _ready_time(attempt, state, every, deployment, end)
    finished = attempt.finished
    switched = None if finished is None else _switch_time(attempt, every, finished)
    if switched is not None:
        switched = min(max(switched, ready or attempt.started), end)
    steps = _before_switch(attempt, deployment, ready, switched or end, failed)
    steps.extend(_check_marks(state, attempt.revision, CheckStage.SMOKE, attempt.started, end))
    if finished is None:
        return Lane(attempt.revision, attempt.image, attempt.outcome, tuple(steps))
    if switched is not None:
        label = f"switch to {attempt.revision} at {format_time(switched)}"
        steps.append(Step(StepKind.SWITCH, switched, switched, label))
    if attempt.outcome == Outcome.PROMOTED:
        steps.extend(_hold(attempt, finished, state, events, now, latest_promoted))
    elif attempt.outcome == Outcome.ROLLED_BACK and switched is not None:
        steps.extend(_rolled_back(attempt, switched, finished, state, events))
    elif attempt.outcome == Outcome.ROLLED_BACK:
        steps.append(Step(StepKind.ROLLBACK, finished, finished, "rolled back", failed=True))
    elif failed:
        warning = [e for e in events if e.type == EventType.WARNING and e.time <= finished + SKEW]
        why = warning[-1].message if warning else ""
        label = f"{attempt.outcome.lower()}: {why}" if why else attempt.outcome.lower()
        steps.append(Step(StepKind.FAILED, finished, finished, label, failed=True))
    else:
        steps.append(Step(StepKind.STOPPED, finished, finished, attempt.outcome.lower() or "ended"))
    return Lane(attempt.revision, attempt.image, attempt.outcome, tuple(steps))


def build_timeline(
    release: Obj, events: Sequence[EventRecord], now: datetime, limit: int = LANES
) -> Timeline:
    """The last ``limit`` release attempts of ``release``, with ``events`` (``events_of``)."""
    name = text(mapping(release.get("metadata")).get("name"))
    state = status(release)
    attempts = _attempts(state, limit)
    promoted = [i for i, a in enumerate(attempts) if a.outcome == Outcome.PROMOTED]
    lanes = []
    for i, attempt in enumerate(attempts):
        following = attempts[i + 1].started if i + 1 < len(attempts) else None
        # An Event belongs to the latest attempt started before it. Stamps have second
        # precision: one of the second the next attempt started stays with this one.
        mine = [
            e
            for e in events
            if e.time >= attempt.started - SKEW and (following is None or e.time < following)
        ]
        latest = bool(promoted) and i == promoted[-1]
        lanes.append(_lane(attempt, name, state, mine, events, now, latest))
    if not lanes:
        return Timeline(name, now, now, ())
    start = min(step.start for lane in lanes for step in lane.steps)
    end = max([now, *(step.end for lane in lanes for step in lane.steps)])
    return Timeline(name, start, end, tuple(lanes))
