"""Pure rendering of ``kubectl bluegreen status`` and ``history``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from plugin_samples import NOW, holding, with_status

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


def test_status_page_shows_every_section() -> None:
    page = render.render_status(holding(), NOW)
    lines = page.splitlines()
    assert lines[:7] == [
        "Name:        shop",
        "Namespace:   shop",
        "Phase:       Holding",
        "Revision:    5d8f9c2a1b",
        "Generation:  7 (observed 7)",
        "Message:     Holding previous revision 91ab23cd45",
        "Approved:    -",
    ]
    active = lines.index("Active:")
    assert lines[active + 1 : active + 6] == [
        "  Revision:   5d8f9c2a1b",
        "  Deployment: shop-5d8f9c2a1b",
        "  Image:      shop:v2",
        "  Ready:      3/3",
        "  Switched:   4m ago",
    ]
    assert lines[lines.index("Preview:") + 1] == "  -"
    previous = lines.index("Previous:")
    assert lines[previous + 4] == "  Hold:       9m30s left (deleteAfter 2026-11-26T12:09:30Z)"
    checks = lines.index("Checks:")
    assert lines[checks + 1].split() == [
        "NAME", "STAGE", "KIND", "PHASE", "ATTEMPTS", "AGE", "MESSAGE"
    ]  # fmt: skip
    assert lines[checks + 2].split() == ["home", "smoke", "http", "Passed", "1", "2m", "200", "OK"]
    assert lines[checks + 3].split() == ["e2e", "hold", "job", "Running", "2", "15s"]
    conditions = lines.index("Conditions:")
    assert lines[conditions + 2].split() == [
        "Ready", "False", "Holding", "30s", "Hold", "ends", "in", "9m30s"
    ]  # fmt: skip
    assert lines[conditions + 3].split() == ["Reconciling", "True", "Holding", "5m"]
    assert "Infrastructure: applied, inputs 0123456789ab, last apply 1h ago" in lines
    assert "Last action: promote 5d8f9c2a1b -> Accepted (1m ago)" in lines


def test_status_page_flags_a_stale_status() -> None:
    obj = holding()
    obj["metadata"]["generation"] = 8
    page = render.render_status(obj, NOW)
    assert "Generation:  8 (observed 7)  status is stale" in page


def test_status_page_shows_preview_and_its_deadline() -> None:
    obj = with_status(
        holding(),
        phase="Verifying",
        preview={
            "revision": "77aa",
            "deployment": "shop-77aa",
            "image": "shop:v3",
            "replicas": 3,
            "readyReplicas": 1,
            "deadline": "2026-11-26T12:05:00Z",
        },
    )
    lines = render.render_status(obj, NOW).splitlines()
    preview = lines.index("Preview:")
    assert lines[preview + 1 : preview + 6] == [
        "  Revision:   77aa",
        "  Deployment: shop-77aa",
        "  Image:      shop:v3",
        "  Ready:      1/3",
        "  Deadline:   5m left",
    ]


def test_status_page_of_a_fresh_release_does_not_crash() -> None:
    obj = {"metadata": {"name": "new", "namespace": "ns", "generation": 1}}
    page = render.render_status(obj, NOW)
    assert "Phase:       Unknown" in page
    assert "Generation:  1 (observed none)  status is stale" in page
    assert "Checks:\n  -" in page
    assert "Conditions:\n  -" in page
    assert "Infrastructure: -" in page
    assert "Last action: -" in page


def test_status_page_tolerates_malformed_fields() -> None:
    obj = with_status(holding(), checks="oops", conditions=[None, 3], active=[], previous=None)
    page = render.render_status(obj, NOW)
    assert "Checks:\n  -" in page
    assert "Active:\n  -" in page


def test_status_page_reports_drift() -> None:
    obj = holding()
    obj["status"]["infrastructure"]["drift"] = True
    assert "DRIFT detected" in render.render_status(obj, NOW)


def test_status_page_shows_the_last_terraform_error() -> None:
    obj = holding()
    obj["status"]["infrastructure"].update(applied=False, message="Error: Unauthorized")
    page = render.render_status(obj, NOW)
    assert "Infrastructure: not applied, inputs 0123456789ab" in page
    assert "\n  last error: Error: Unauthorized\n" in page


def test_status_page_shows_an_approval() -> None:
    obj = with_status(holding(), approvedRevision="77aa")
    assert "Approved:    77aa" in render.render_status(obj, NOW)


def test_history_table() -> None:
    lines = render.render_history(holding(), NOW).splitlines()
    assert lines[0].split() == ["REVISION", "IMAGE", "STARTED", "DURATION", "OUTCOME"]
    assert lines[1].split() == ["91ab23cd45", "shop:v1", "1d", "ago", "4m5s", "Complete"]
    assert lines[2].split() == ["5d8f9c2a1b", "shop:v2", "5m", "ago", "-", "InProgress"]


def test_history_when_empty() -> None:
    assert render.render_history({"status": {}}, NOW) == "No releases recorded yet."
