"""The action annotation is written by humans: any value is reported and consumed, none raises."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluegreen.core.actions import ClearActionAnnotation, EmitEvent
from bluegreen.core.bounds import bound_status
from bluegreen.core.conditions import TRUE
from bluegreen.core.decide import decide
from bluegreen.core.human_actions import (
    MAX_ACTION_CHARS,
    argument_problem,
    extended_deadline,
    hold_extension_seconds,
    parse_action,
    record_of,
)
from bluegreen.core.spec import MAX_HOLD_SECONDS
from bluegreen.core.status import Condition, HistoryEntry, Phase
from bluegreen.core.timefmt import parse_time

from .world import T0, Release, http_check, job_check, make_spec

HOSTILE = [
    "",
    " ",
    "extend-hold:٣",  # Arabic-Indic three: str.isdigit() says yes
    "extend-hold:²",  # superscript two: isdigit() yes, int() raises
    "extend-hold:" + "9" * 40,  # overflows timedelta
    "extend-hold:99999999",
    f"extend-hold:{MAX_HOLD_SECONDS + 1}",
    "extend-hold:-5",
    "extend-hold:0",
    "extend-hold:",
    "extend-hold: 60 60",
    "extend-hold:1e9",
    "extend-hold:0x10",
    "promote:\x00\x1b[31m",
    "promote:../../etc",
    "promote:ABC",
    "abort:now",
    "rollback\n",
    "\u202epromote",
    "promote\u0000",
    "x" * 1_000_000,
    "promote@" + "n" * 1_000_000,
    "@@@",
    ":::",
    "\uff30\uff32\uff2f\uff2d\uff2f\uff34\uff25",  # fullwidth PROMOTE
]


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("raw", "verb", "argument"),
    [
        ("promote", "promote", ""),
        ("promote:77aa@c0ffee", "promote", "77aa"),
        (" Abort@1 ", "abort", ""),
        ("rollback", "rollback", ""),
        ("extend-hold:600@n", "extend-hold", "600"),
    ],
)
def test_valid_values_parse(raw: str, verb: str, argument: str) -> None:
    parsed = parse_action(raw)
    assert parsed is not None
    assert (parsed.verb, parsed.argument) == (verb, argument)
    assert argument_problem(parsed.verb, parsed.argument) is None


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_values_are_refused_by_parse_or_argument_check(raw: str) -> None:
    parsed = parse_action(raw)
    if parsed is not None:
        assert argument_problem(parsed.verb, parsed.argument)


def test_long_and_non_ascii_values_are_not_read() -> None:
    assert parse_action("promote@" + "n" * MAX_ACTION_CHARS) is None
    assert parse_action("promote@ñ") is None
    assert parse_action("promote@\t") is None


@pytest.mark.parametrize(
    ("argument", "seconds"),
    [("1", 1), ("600", 600), (str(MAX_HOLD_SECONDS), MAX_HOLD_SECONDS)],
)
def test_hold_extension_bounds(argument: str, seconds: int) -> None:
    assert hold_extension_seconds(argument) == seconds


@pytest.mark.parametrize(
    "argument", ["0", "-1", str(MAX_HOLD_SECONDS + 1), "٣", "²", "9" * 40, "", " 5"]
)
def test_hold_extension_out_of_bounds(argument: str) -> None:
    assert hold_extension_seconds(argument) is None


def test_extended_deadline_never_passes_the_hold_bound() -> None:
    bound = T0 + timedelta(seconds=MAX_HOLD_SECONDS)
    assert extended_deadline(T0, 60, T0) == T0 + timedelta(seconds=60)
    assert extended_deadline(T0 + timedelta(days=6), MAX_HOLD_SECONDS, T0) == bound
    assert extended_deadline(bound, 1, T0) is None
    far = T0.replace(year=9000)
    assert extended_deadline(far, MAX_HOLD_SECONDS, T0) is None


# ------------------------------------------------------------------ decide() with them


def holding() -> Release:
    spec: dict[str, Any] = {"hold": 600, "hold_checks": [http_check("live")]}
    release = Release(make_spec("shop:v1", **spec))
    release.run(2)
    release.spec = make_spec("shop:v2", **spec)
    release.step()
    assert release.status.phase == Phase.HOLDING
    return release


@pytest.mark.parametrize("raw", HOSTILE[1:])
def test_hostile_annotation_is_rejected_reported_and_cleared(raw: str) -> None:
    release = holding()
    before = release.status.previous
    release.world.annotation = raw
    release.step()
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Rejected")
    warnings = [e for e in release.world.events if e.type == "Warning"]
    assert warnings and warnings[-1].reason == "ActionConsumed"
    release.step()
    assert release.world.annotation is None, "consumed values are cleared"
    assert release.status.previous == before
    assert release.status.phase == Phase.HOLDING


def test_extend_hold_is_capped_at_the_hold_bound() -> None:
    release = holding()
    release.world.annotation = f"extend-hold:{MAX_HOLD_SECONDS}"
    release.step()
    assert release.status.previous is not None
    deadline = parse_time(release.status.previous.delete_after)
    assert deadline == release.now + timedelta(seconds=MAX_HOLD_SECONDS)
    release.world.annotation = "extend-hold:60@again"
    release.step()
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Rejected")
    assert parse_time(release.status.previous.delete_after) == deadline


# ------------------------------------------------------------------ property: never raises


def _first_step(spec: dict[str, Any], **world: Any) -> Release:
    release = Release(spec)
    for key, value in world.items():
        setattr(release.world, key, value)
    release.step()
    return release


@cache
def releases_in_every_phase() -> dict[str, Release]:
    """One release per phase (and a bad spec), built through the fake world."""
    out: dict[str, Release] = {}
    out["Pending"] = Release(make_spec())
    provisioning = Release(make_spec())
    provisioning.step(max_loops=1)  # stopped right after the apply, as a restart would
    out["Provisioning"] = provisioning
    out["InfrastructureFailed"] = _first_step(make_spec(), infra_failure="apply failed")
    out["Deploying"] = _first_step(make_spec(), auto_ready=False)
    out["Verifying"] = _first_step(make_spec(smoke=[job_check("e2e")]), auto_jobs=False)
    out["AwaitingPromotion"] = _first_step(make_spec(auto=False))
    out["Switching"] = _first_step(make_spec(), endpoints_lag=True)
    out["Holding"] = holding()
    complete = Release(make_spec())
    complete.run(2)
    out["Complete"] = complete
    failed = _first_step(make_spec(readiness_timeout=10), auto_ready=False)
    failed.advance(60)
    out["Failed"] = failed
    rolled = holding()
    rolled.world.http_outcomes[("live", rolled.status.revision)] = False
    rolled.advance(60)
    out["RolledBack"] = rolled
    bad = make_spec()
    bad["replicas"] = "many"
    out["InvalidSpec"] = _first_step(bad)
    return out


def test_the_fixtures_cover_every_phase() -> None:
    seen = {r.status.phase for r in releases_in_every_phase().values()}
    assert seen >= {
        Phase.PENDING,
        Phase.PROVISIONING,
        Phase.DEPLOYING,
        Phase.VERIFYING,
        Phase.AWAITING_PROMOTION,
        Phase.SWITCHING,
        Phase.HOLDING,
        Phase.COMPLETE,
        Phase.FAILED,
        Phase.ROLLED_BACK,
    }, seen


ANNOTATIONS = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.builds(
        lambda verb, arg, nonce: f"{verb}:{arg}{nonce}",
        st.sampled_from(["promote", "abort", "rollback", "extend-hold", "EXTEND-HOLD", ""]),
        st.one_of(st.text(), st.integers().map(str), st.sampled_from(["٣", "²", "1" * 50])),
        st.one_of(st.just(""), st.text().map(lambda n: "@" + n)),
    ),
    st.sampled_from(HOSTILE),
)


@settings(max_examples=300, deadline=None)
@given(phase=st.sampled_from(sorted(releases_in_every_phase())), raw=ANNOTATIONS)
def test_decide_never_raises_on_any_annotation(phase: str, raw: str) -> None:
    release = releases_in_every_phase()[phase]
    world = release.world
    observed = dataclasses.replace(world.observe(), action=raw or None)
    decision = decide(world.ctx(), release.spec, release.status, observed, release.now)
    if not raw:
        return
    recorded = decision.status.last_action
    if release.status.last_action and release.status.last_action.raw == record_of(raw):
        assert ClearActionAnnotation(raw) in decision.actions
        return
    assert recorded is not None and recorded.raw == record_of(raw), "consumed and recorded"
    parsed = parse_action(raw)
    if phase == "InvalidSpec" or parsed is None or argument_problem(parsed.verb, parsed.argument):
        assert recorded.result.startswith("Rejected")
        assert any(
            isinstance(a, EmitEvent) and a.type == "Warning" and a.reason == "ActionConsumed"
            for a in decision.actions
        )


def test_an_action_on_an_invalid_spec_is_refused_and_cleared() -> None:
    release = releases_in_every_phase()["InvalidSpec"]
    release = Release(release.spec)
    release.step()
    release.world.annotation = "promote"
    release.step()
    assert release.status.last_action is not None
    assert release.status.last_action.result.startswith("Rejected: the spec is invalid")
    assert release.world.annotation is None, "consumed, so a fixed spec does not act on it"
    assert release.status.phase == Phase.FAILED


def test_records_are_short_exact_and_stable() -> None:
    assert record_of("promote@n1") == "promote@n1"
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert record_of(long_a) != record_of(long_b), "values sharing a long start differ"
    assert len(record_of("٣" * 1_000_000)) < 128
    for raw in (long_a, "<&>\u202e" * 70_000):
        assert record_of(record_of(raw)) == record_of(raw), "a record bounded again is the same"


def _padded(status_junk: int) -> Any:
    """Free text that makes the status shrink its caps: none, to 256 chars, to the last resort."""
    junk = "<" * status_junk
    return lambda status: dataclasses.replace(
        status,
        conditions=status.conditions
        + tuple(Condition(f"Junk{i}", TRUE, "Why", junk) for i in range(10)),
        history=status.history
        + tuple(HistoryEntry(f"r{i}", junk, "t", "t", "x") for i in range(20)),
    )


@settings(max_examples=150, deadline=None)
@given(raw=ANNOTATIONS.filter(bool), status_junk=st.sampled_from([0, 600, 5_000]))
def test_a_consumed_value_is_cleared_not_consumed_again_once_stored(
    raw: str, status_junk: int
) -> None:
    """The stored (bounded) record of any value still matches it: the next step
    clears the annotation instead of acting on it and announcing it again."""
    release = holding()
    world = release.world
    observed = dataclasses.replace(world.observe(), action=raw)
    first = decide(world.ctx(), release.spec, release.status, observed, release.now)
    assert first.status.last_action is not None
    stored = bound_status(_padded(status_junk)(first.status))
    again = decide(world.ctx(), release.spec, stored, observed, release.now)
    assert ClearActionAnnotation(raw) in again.actions
    assert not any(
        isinstance(a, EmitEvent) and a.reason == "ActionConsumed" for a in again.actions
    ), "consumed and announced once"
