"""The timeline drawn as SVG: well-formed, escaped, one group per step."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from dashboard_samples import NOW, V1, V2, holding, two_releases_events

from bluegreen.plugin.dashboard.svg import LABEL_WIDTH, MIN_SPAN, WIDTH, render_svg
from bluegreen.plugin.dashboard.timeline import (
    Lane,
    Step,
    StepKind,
    Timeline,
    build_timeline,
    events_of,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(drawn: str) -> ET.Element:
    return ET.fromstring(drawn)


def groups(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "data-step" in g.attrib]


def test_every_step_is_a_group_with_its_tooltip() -> None:
    obj = holding()
    drawn = render_svg(build_timeline(obj, events_of(obj, two_releases_events()), NOW))
    root = parse(drawn)
    assert root.attrib["viewBox"].startswith(f"0 0 {WIDTH} ")
    assert root.attrib["aria-label"] == f"recent releases of shop: {V1} Promoted; {V2} Promoted"
    steps = [
        (g.attrib["data-revision"], g.attrib["data-step"], g.attrib["data-state"])
        for g in groups(root)
    ]
    assert steps == [
        (V1, "deploy", "done"), (V1, "checks", "done"), (V1, "switch", "done"),
        (V2, "deploy", "done"), (V2, "checks", "done"), (V2, "hold", "ongoing"),
        (V2, "check", "done"), (V2, "switch", "done"), (V2, "check", "done"),
    ]  # fmt: skip
    titles = [g.find(f"{SVG}title") for g in groups(root)]
    assert all(t is not None and t.text for t in titles)
    assert "hold: 9m so far, ends in 1m" in drawn
    # Each lane: revision and outcome, then when it started, its image, and how long it took.
    labels = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert labels[:4] == [V1, "Promoted", "2026-11-26T11:00:00Z · shop:v1", "20s"]
    assert labels[4:8] == [V2, "Promoted", "2026-11-26T11:50:00Z · shop:v2", "10m"]


def test_text_from_the_cluster_is_escaped() -> None:
    hostile = '<script>alert("x")</script>&'
    start = NOW - timedelta(minutes=1)
    lane = Lane(
        revision='r"><svg onload=x>',
        image=hostile,
        outcome="Failed",
        steps=(Step(StepKind.FAILED, NOW, NOW, hostile, failed=True),),
    )
    drawn = render_svg(Timeline("shop<", start, NOW, (lane,)))
    assert "<script>" not in drawn and "onload=x>" not in drawn
    root = parse(drawn)  # still well-formed
    (group,) = groups(root)
    assert group.attrib["data-revision"] == 'r"><svg onload=x>'
    title = group.find(f"{SVG}title")
    assert title is not None and title.text == hostile


def test_a_step_of_a_second_still_shows_and_time_maps_left_to_right() -> None:
    start = NOW - timedelta(hours=1)
    lane = Lane(
        "r1",
        "shop:v1",
        "Promoted",
        (
            Step(StepKind.DEPLOY, start, start + timedelta(seconds=1), "deploy"),
            Step(StepKind.HOLD, NOW - timedelta(minutes=30), NOW, "hold"),
        ),
    )
    root = parse(render_svg(Timeline("shop", start, NOW, (lane,))))
    deploy, hold = (g.find(f"{SVG}rect") for g in groups(root))
    assert deploy is not None and hold is not None
    assert float(deploy.attrib["x"]) == LABEL_WIDTH
    assert float(deploy.attrib["width"]) == MIN_SPAN
    assert float(hold.attrib["x"]) > float(deploy.attrib["x"])
    assert abs(float(hold.attrib["x"]) + float(hold.attrib["width"]) - (WIDTH - 16)) < 0.2


def test_no_release_yet() -> None:
    root = parse(render_svg(Timeline("shop", NOW, NOW, ())))
    assert groups(root) == []
    assert root.attrib["aria-label"] == "no release recorded yet"


def test_the_same_timeline_draws_the_same_text() -> None:
    obj = holding()
    events = events_of(obj, two_releases_events())
    assert render_svg(build_timeline(obj, events, NOW)) == render_svg(
        build_timeline(obj, events, NOW)
    )
