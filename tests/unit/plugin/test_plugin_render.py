"""Pure text of the plugin: durations, countdowns, and the ``history`` and ``list`` tables."""

from __future__ import annotations

from datetime import timedelta

import pytest
from plugin_samples import NOW, holding

from bluegreen.plugin import render


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (-5, "0s"),
        (45.9, "45s"),
        (60, "1m"),
        (192, "3m12s"),
        (3600, "1h"),
        (7500, "2h5m"),
        (86400, "1d"),
        (3 * 86400 + 4 * 3600 + 59, "3d4h"),
    ],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert render.format_duration(seconds) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T11:58:00Z", "2m"),
        ("2026-11-26T12:00:05Z", "in 5s"),
        ("2026-11-26T13:58:00+02:00", "2m"),
        ("2026-11-26T11:58:00", "2m"),
        (None, "-"),
        ("", "-"),
        ("yesterday", "-"),
        (12, "-"),
    ],
)
def test_age(value: object, expected: str) -> None:
    assert render.age(value, NOW) == expected


def test_ago_reads_as_a_sentence() -> None:
    assert render.ago("2026-11-26T11:58:00Z", NOW) == "2m ago"
    assert render.ago("2026-11-26T12:00:05Z", NOW) == "in 5s"
    assert render.ago(None, NOW) == "-"


def test_table_aligns_columns_and_leaves_last_unpadded() -> None:
    out = render.table(["A", "LONGER", "C"], [["xxxx", "y", "z"], ["1", "2", ""]], indent="  ")
    assert out.splitlines() == [
        "  A     LONGER  C",
        "  xxxx  y       z",
        "  1     2",
    ]


@pytest.mark.parametrize(
    ("delete_after", "expected"),
    [
        ("2026-11-26T12:09:30Z", "9m30s left (deleteAfter 2026-11-26T12:09:30Z)"),
        ("2026-11-26T11:59:59Z", "hold over, deletion due (deleteAfter 2026-11-26T11:59:59Z)"),
        ("2026-11-26T12:00:00Z", "hold over, deletion due (deleteAfter 2026-11-26T12:00:00Z)"),
        # Rendered in UTC whatever offset the timestamp was written with.
        ("2026-11-26T14:00:01+02:00", "1s left (deleteAfter 2026-11-26T12:00:01Z)"),
        (None, "-"),
    ],
)
def test_hold_countdown(delete_after: str | None, expected: str) -> None:
    previous = {"revision": "a", "deleteAfter": delete_after}
    assert render.hold_countdown(previous, NOW) == expected


def test_hold_countdown_moves_with_the_clock() -> None:
    previous = holding()["status"]["previous"]
    assert render.hold_countdown(previous, NOW + timedelta(minutes=9)).startswith("30s left")


def test_deadline_countdown() -> None:
    assert render.deadline_countdown({"deadline": "2026-11-26T12:10:00Z"}, NOW) == "10m left"
    assert render.deadline_countdown({"deadline": "2026-11-26T11:59:00Z"}, NOW) == "passed 1m ago"
    assert render.deadline_countdown({}, NOW) == "-"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"replicas": 3, "readyReplicas": 2}, "2/3"),
        ({"replicas": 3}, "0/3"),
        ({"readyReplicas": 1}, "1/?"),
        ({}, "-"),
    ],
)
def test_replicas(block: dict[str, int], expected: str) -> None:
    assert render.replicas(block) == expected


def test_history_table() -> None:
    lines = render.render_history(holding(), NOW).splitlines()
    assert lines[0].split() == ["REVISION", "IMAGE", "STARTED", "DURATION", "OUTCOME"]
    assert lines[1].split() == ["91ab23cd45", "shop:v1", "1d", "ago", "4m5s", "Complete"]
    assert lines[2].split() == ["5d8f9c2a1b", "shop:v2", "5m", "ago", "-", "InProgress"]


def test_history_when_empty() -> None:
    assert render.render_history({"status": {}}, NOW) == "No releases recorded yet."


def test_list_table_of_one_namespace() -> None:
    fresh = {
        "metadata": {
            "name": "cart",
            "namespace": "shop",
            "creationTimestamp": "2026-11-26T11:59:00Z",
        }
    }
    obj = holding()
    obj["metadata"]["creationTimestamp"] = "2026-11-25T12:00:00Z"
    lines = render.render_list([obj, fresh], NOW, all_namespaces=False).splitlines()
    assert lines[0].split() == [
        "NAME", "PHASE", "DESIRED", "ACTIVE", "PREVIEW", "PREVIOUS", "READY", "HOLD", "AGE"
    ]  # fmt: skip
    # Sorted by name, whatever order the API server listed them in.
    assert lines[1].split() == ["cart", "Unknown", "-", "-", "-", "-", "-", "-", "1m"]
    assert lines[2].split() == [
        "shop", "Holding", "5d8f9c2a1b", "5d8f9c2a1b", "-", "91ab23cd45", "3/3", "9m30s", "1d"
    ]  # fmt: skip


def test_list_table_of_every_namespace_leads_with_the_namespace() -> None:
    other = holding()
    other["metadata"]["namespace"] = "a-team"
    lines = render.render_list([holding(), other], NOW, all_namespaces=True).splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [line.split()[0] for line in lines[1:]] == ["a-team", "shop"]


def test_list_when_empty() -> None:
    assert render.render_list([], NOW, all_namespaces=True) == "No releases found."
