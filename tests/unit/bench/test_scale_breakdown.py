"""The split of a traced scale run's switch latency into its parts."""

from __future__ import annotations

import pytest
from bench.scale_breakdown import breakdown, split_switch


def _trace(name: str, shift: float = 0.0) -> list[dict[str, object]]:
    return [
        {"kind": "wake", "t": 9.0 + shift, "name": name},  # older news
        {"kind": "wake", "t": 10.2 + shift, "name": name},
        {"kind": "observe", "start": 10.5 + shift, "end": 10.51 + shift, "name": name},
        {
            "kind": "decide",
            "start": 10.51 + shift,
            "end": 10.52 + shift,
            "name": name,
            "actions": ["EmitEvent", "PatchSelector"],
        },
        {
            "kind": "action",
            "start": 10.52 + shift,
            "end": 10.9 + shift,
            "name": name,
            "action": "PatchSelector",
        },
    ]


def test_each_part_is_measured_from_the_step_that_switched() -> None:
    got = split_switch(_trace("a"), t_available=10.0, t_switched=11.0)
    assert got is not None
    assert got["to_wake"] == pytest.approx(0.2)
    assert got["wake_to_step"] == pytest.approx(0.3)
    assert got["observe"] == pytest.approx(0.01)
    assert got["switch"] == pytest.approx(0.38)
    assert got["to_watch"] == pytest.approx(0.1)
    total = sum(got.values())
    assert total == pytest.approx(1.0)


def test_an_operator_that_heard_first_shows_a_negative_delivery() -> None:
    trace = [e for e in _trace("a") if e.get("t") != 10.2]
    got = split_switch(trace, t_available=10.0, t_switched=11.0)
    assert got is not None
    assert got["to_wake"] == pytest.approx(-1.0)


def test_a_change_without_a_switching_step_is_left_out() -> None:
    trace = [e for e in _trace("a") if e["kind"] != "decide"]
    assert split_switch(trace, t_available=10.0, t_switched=11.0) is None


def test_the_summary_covers_v2_changes_and_names_the_slowest_parts() -> None:
    trace = [*_trace("a"), *_trace("b", shift=100.0)]
    trace.append({"kind": "lag", "start": 110.0, "end": 110.3, "cpu": 0.3})
    rows = [
        {"release": "a", "version": "v2", "t_available": 10.0, "t_switched": 11.0},
        {"release": "b", "version": "v2", "t_available": 109.5, "t_switched": 111.0},
        {"release": "c", "version": "v1", "t_available": 1.0, "t_switched": 2.0},
    ]
    got = breakdown(rows, trace)
    assert got["changes"] == 2
    assert got["summary_ms"]["total"]["max"] == pytest.approx(1500.0)
    # b waited 0.7 s for its wake-up; the slowest 1% is b alone.
    assert got["slowest_mean_ms"]["to_wake"] == pytest.approx(700.0)
    assert got["slowest_mean_ms"]["loop_lag"] == pytest.approx(300.0)


def test_failed_steps_and_probes_are_counted_so_a_broken_trace_shows() -> None:
    trace = [
        *_trace("a"),
        {"kind": "reconcile", "start": 10.4, "end": 10.95, "name": "a", "error": "TypeError"},
        {"kind": "reconcile", "start": 11.4, "end": 11.5, "name": "a", "error": ""},
        {"kind": "step", "start": 10.9, "end": 10.95, "error": "", "probe_error": "TypeError()"},
    ]
    rows = [{"release": "a", "version": "v2", "t_available": 10.0, "t_switched": 11.0}]
    got = breakdown(rows, trace)
    assert (got["failed_reconciles"], got["failed_probes"]) == (1, 1)
    assert breakdown(rows, _trace("a"))["failed_reconciles"] == 0
