"""The timeline of a release, from its status, history and Events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard_samples import (
    FIRST,
    NOW,
    SECOND,
    V1,
    V2,
    event,
    holding,
    release,
    two_releases_events,
)

from bluegreen.plugin.dashboard.timeline import (
    IN_PROGRESS,
    Lane,
    StepKind,
    Timeline,
    build_timeline,
    events_of,
)


def at(hhmmss: str) -> datetime:
    h, m, s = (int(p) for p in hhmmss.split(":"))
    return datetime(2026, 11, 26, h, m, s, tzinfo=UTC)


def timeline(obj: dict[str, Any], events: list[dict[str, Any]], now: datetime = NOW) -> Timeline:
    return build_timeline(obj, events_of(obj, events), now)


def kinds(lane: Lane) -> list[str]:
    return [step.kind.value for step in lane.steps]


def step(lane: Lane, kind: StepKind) -> Any:
    found = [s for s in lane.steps if s.kind is kind]
    assert len(found) == 1, (kind, lane.steps)
    return found[0]


def test_a_release_in_its_hold() -> None:
    drawn = timeline(holding(), two_releases_events())
    first, second = drawn.lanes
    assert (first.revision, first.outcome) == (V1, "Promoted")
    # The first release has no hold: nothing was kept warm.
    assert kinds(first) == ["deploy", "checks", "switch"]
    assert (step(first, StepKind.DEPLOY).start, step(first, StepKind.DEPLOY).end) == (
        at("11:00:00"),
        at("11:00:10"),
    )
    assert step(first, StepKind.CHECKS).end == at("11:00:20")
    assert step(first, StepKind.SWITCH).start == at("11:00:20")

    assert kinds(second) == ["deploy", "checks", "check", "switch", "hold", "check"]
    assert step(second, StepKind.DEPLOY).end == at("11:50:30")
    hold = step(second, StepKind.HOLD)
    assert (hold.start, hold.end, hold.ongoing, hold.failed) == (at("11:51:00"), NOW, True, False)
    assert hold.label == "hold: 9m so far, ends in 1m"
    smoke, held = [s for s in second.steps if s.kind is StepKind.CHECK]
    assert smoke.label == "smoke check home: Passed (200 OK)" and smoke.start == at("11:50:40")
    assert held.label == "hold check still-healthy: Passed" and not held.failed
    assert (drawn.start, drawn.end) == (at("11:00:00"), NOW)


def test_the_hold_ends_when_the_previous_revision_is_deleted() -> None:
    obj = holding()
    del obj["status"]["previous"]
    obj["status"]["phase"] = "Complete"
    events = [*two_releases_events(), event("PreviousDeleted", "12:01:05", f"deleted shop-{V1}")]
    second = timeline(obj, events, at("12:05:00")).lanes[1]
    hold = step(second, StepKind.HOLD)
    assert (hold.end, hold.ongoing) == (at("12:01:05"), False)
    assert step(second, StepKind.CLEANUP).label == f"deleted shop-{V1}"


def test_a_rollback_ends_the_hold_and_shows_as_a_rollback() -> None:
    obj = holding()
    obj["status"].update(
        phase="RolledBack",
        active={"revision": V1, "deployment": f"shop-{V1}", "image": "shop:v1", "replicas": 2},
        previous={"revision": V2, "deployment": f"shop-{V2}", "image": "x", "draining": True},
    )
    events = [
        *two_releases_events(),
        event("RollbackStarted", "11:55:00", "hold check still-healthy failed", warning=True),
        event("RolledBack", "11:55:03", f"stable Service shop reaches only {V1}", warning=True),
    ]
    second = timeline(obj, events).lanes[1]
    hold = step(second, StepKind.HOLD)
    assert (hold.end, hold.failed, hold.ongoing) == (at("11:55:00"), True, False)
    rollback = step(second, StepKind.ROLLBACK)
    assert rollback.start == at("11:55:00")
    assert rollback.label == "rollback: hold check still-healthy failed"
    # The hold check at 11:59 came after the hold ended: not drawn on it.
    assert [s.start for s in second.steps if s.kind is StepKind.CHECK] == [at("11:50:40")]


def test_a_candidate_that_never_became_ready_fails_in_deploy() -> None:
    failed = {**SECOND, "finishedAt": "2026-11-26T11:51:00Z", "outcome": "Failed"}
    obj = release(phase="Failed", revision=V2, history=[copy.deepcopy(FIRST), failed])
    events = [
        *two_releases_events()[:4],
        event("ReadinessTimeout", "11:51:00", f"shop-{V2} not available in 60s", warning=True),
    ]
    lane = timeline(obj, events).lanes[1]
    assert kinds(lane) == ["deploy", "failed"]
    deploy = step(lane, StepKind.DEPLOY)
    assert (deploy.end, deploy.failed, deploy.ongoing) == (at("11:51:00"), True, False)
    assert step(lane, StepKind.FAILED).label == f"failed: shop-{V2} not available in 60s"


def test_a_superseded_attempt_stops() -> None:
    superseded = {**SECOND, "outcome": "Superseded"}
    obj = release(phase="Deploying", history=[superseded])
    lane = timeline(obj, []).lanes[0]
    assert kinds(lane) == ["deploy", "stopped"]
    assert step(lane, StepKind.STOPPED).label == "superseded"


def test_the_candidate_in_flight_is_a_lane_going_on() -> None:
    obj = release(
        phase="Verifying",
        history=[copy.deepcopy(FIRST)],
        preview={
            "revision": V2,
            "deployment": f"shop-{V2}",
            "image": "shop:v2",
            "replicas": 2,
            "deadline": "2026-11-26T12:10:00Z",
            "startedAt": "2026-11-26T11:59:00Z",
            "readyAt": "2026-11-26T11:59:30Z",
        },
        checks=[
            {"name": "home", "stage": "smoke", "kind": "http", "revision": V2, "phase": "Running",
             "time": "2026-11-26T11:59:40Z"},
            {"name": "e2e", "stage": "smoke", "kind": "job", "revision": V2, "phase": "Failed",
             "time": "2026-11-26T11:59:50Z", "message": "Job failed"},
        ],
    )  # fmt: skip
    lane = timeline(obj, two_releases_events()[:3]).lanes[1]
    assert (lane.revision, lane.outcome, lane.image) == (V2, IN_PROGRESS, "shop:v2")
    assert kinds(lane) == ["deploy", "checks", "check", "check"]
    assert step(lane, StepKind.DEPLOY).end == at("11:59:30")
    checks = step(lane, StepKind.CHECKS)
    assert (checks.end, checks.ongoing) == (NOW, True)
    running, failed = [s for s in lane.steps if s.kind is StepKind.CHECK]
    assert running.ongoing and not running.failed
    assert failed.failed and failed.label == "smoke check e2e: Failed (Job failed)"


def test_a_candidate_not_ready_yet_deploys_until_now() -> None:
    obj = release(
        phase="Deploying",
        preview={"revision": V1, "deployment": f"shop-{V1}", "image": "shop:v1", "replicas": 2,
                 "deadline": "2026-11-26T12:10:00Z", "startedAt": "2026-11-26T11:59:50Z"},
    )  # fmt: skip
    (lane,) = timeline(obj, []).lanes
    deploy = step(lane, StepKind.DEPLOY)
    assert (deploy.start, deploy.end, deploy.ongoing) == (at("11:59:50"), NOW, True)
    assert deploy.label == f"deploy shop-{V1}: 10s"


def test_events_of_another_release_or_an_earlier_one_of_the_same_name_are_left_out() -> None:
    obj = holding()
    events = [
        event("CandidateReady", "11:50:05", f"shop-{V2} is available", uid="an-older-shop"),
        event("CandidateReady", "11:50:06", f"shop-{V2} is available", name="cart"),
        event("CandidateReady", "11:50:07", f"shop-{V2} is available", namespace="other"),
        event("CandidateReady", "11:50:30", f"shop-{V2} is available"),
    ]
    assert [e.time for e in events_of(obj, events)] == [at("11:50:30")]


def test_an_event_belongs_to_the_attempt_started_before_it() -> None:
    # A rollback Event after the next attempt started is not the end of this hold.
    third = {**SECOND, "revision": "cccc", "startedAt": "2026-11-26T11:55:00Z"}
    third.pop("finishedAt")
    third.pop("outcome")
    obj = holding()
    obj["status"]["history"].append(third)
    events = [*two_releases_events(), event("RolledBack", "11:56:00", "back", warning=True)]
    second = timeline(obj, events).lanes[1]
    assert StepKind.ROLLBACK not in {s.kind for s in second.steps}


def test_only_the_last_attempts_are_drawn() -> None:
    start = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    history = [
        {"revision": f"r{i}", "image": f"shop:{i}", "outcome": "Promoted",
         "startedAt": (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "finishedAt": (start + timedelta(minutes=i, seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for i in range(8)
    ]  # fmt: skip
    drawn = timeline(release(phase="Complete", history=history), [])
    assert [lane.revision for lane in drawn.lanes] == ["r3", "r4", "r5", "r6", "r7"]


def test_no_status_draws_nothing() -> None:
    drawn = timeline(release(), [])
    assert drawn.lanes == () and drawn.start == drawn.end == NOW


def test_malformed_times_are_skipped_not_fatal() -> None:
    obj = release(history=[{"revision": "x", "startedAt": "yesterday"}, {"revision": 7}])
    assert timeline(obj, [{"involvedObject": "nonsense"}]).lanes == ()


def test_releases_of_a_second_each_keep_their_events() -> None:
    """KWOK runs a release within a second."""
    first = {**FIRST, "startedAt": "2026-11-26T11:00:09Z", "finishedAt": "2026-11-26T11:00:09Z"}
    # The next one starts the same second the first one finished.
    second = {**SECOND, "startedAt": "2026-11-26T11:00:09Z", "finishedAt": "2026-11-26T11:00:10Z"}
    obj = holding()
    obj["status"]["history"] = [first, second]
    events = [
        event("CandidateCreated", "11:00:09", f"deploying shop-{V1} (shop:v1)"),
        event("CandidateReady", "11:00:09", f"shop-{V1} is available"),
        event("CandidateCreated", "11:00:10", f"deploying shop-{V2} (shop:v2)"),
        event("CandidateReady", "11:00:10", f"shop-{V2} is available"),
    ]
    lanes = timeline(obj, events).lanes
    assert kinds(lanes[0]) == ["deploy", "checks", "switch"]
    assert kinds(lanes[1])[:2] == ["deploy", "checks"]


def test_a_rolled_back_attempt_as_history_records_it() -> None:
    """The rollback closes the entry (outcome RolledBack, finished at the switch back):
    the switch comes from its TrafficSwitched Event, the hold ends at the rollback."""
    rolled_back = {**SECOND, "finishedAt": "2026-11-26T11:55:03Z", "outcome": "RolledBack"}
    obj = holding()
    obj["status"]["history"] = [copy.deepcopy(FIRST), rolled_back]
    events = [
        *two_releases_events(),
        event("RollbackStarted", "11:55:03", f"rolled back by a human: from {V2}", warning=True),
        event("RolledBack", "11:55:03", f"stable Service shop reaches only {V1}", warning=True),
    ]
    lane = timeline(obj, events).lanes[1]
    assert kinds(lane) == ["deploy", "checks", "check", "switch", "hold", "rollback"]
    assert step(lane, StepKind.CHECKS).end == at("11:51:02")
    assert step(lane, StepKind.SWITCH).start == at("11:51:02")
    hold = step(lane, StepKind.HOLD)
    assert (hold.start, hold.end, hold.failed) == (at("11:51:02"), at("11:55:03"), True)
    assert step(lane, StepKind.ROLLBACK).label == f"rollback: rolled back by a human: from {V2}"

    # Its Events expired: the entry alone still says it was rolled back.
    lane = timeline(obj, []).lanes[1]
    assert kinds(lane) == ["deploy", "check", "rollback"]
