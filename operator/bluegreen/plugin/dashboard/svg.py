"""A timeline as inline SVG, drawn on the server. Pure: the same timeline, the same text.

Every text comes from the cluster (revisions, images, Event messages), so every
one is escaped; the SVG carries no script, no style element and no link.
Each step is a ``<g data-step="...">`` with a ``<title>`` (the browser's
tooltip), which is also what the browser test looks for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Final

from bluegreen.api.timefmt import format_time
from bluegreen.plugin.dashboard.timeline import SPANS, Lane, Step, StepKind, Timeline
from bluegreen.plugin.render import format_duration

WIDTH: Final = 760
LABEL_WIDTH: Final = 170
RIGHT: Final = 16
LANE: Final = 36
CAPTION: Final = 12
"""Above each lane's bar: when it started, with which image, and how long it took."""
BAR: Final = 12
LEGEND: Final = 24
MIN_SPAN: Final = 3.0
"""A step of a second still shows."""

COLOURS: Final = {
    StepKind.DEPLOY: "#4f7cac",
    StepKind.CHECKS: "#9b7fc7",
    StepKind.HOLD: "#3f9e6e",
    StepKind.SWITCH: "#1f2937",
    StepKind.CHECK: "#3f9e6e",
    StepKind.ROLLBACK: "#d9480f",
    StepKind.FAILED: "#c92a2a",
    StepKind.STOPPED: "#868e96",
    StepKind.CLEANUP: "#868e96",
}
FAILED_COLOUR: Final = "#c92a2a"
PENDING_COLOUR: Final = "#adb5bd"
LEGEND_KINDS: Final = (
    StepKind.DEPLOY,
    StepKind.CHECKS,
    StepKind.SWITCH,
    StepKind.HOLD,
    StepKind.ROLLBACK,
    StepKind.FAILED,
)


def _attrs(**values: object) -> str:
    return " ".join(
        f'{key.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for key, v in values.items()
    )


class _Scale:
    """One lane's time, from its first step to its last (or now), across the drawing.

    Releases are often days apart and their steps seconds long: one axis for all
    lanes would squeeze every step into a sliver.
    """

    def __init__(self, lane: Lane) -> None:
        self.start = min(step.start for step in lane.steps)
        self.end = max(step.end for step in lane.steps)
        self.seconds = max((self.end - self.start).total_seconds(), 1.0)
        self.width = WIDTH - LABEL_WIDTH - RIGHT

    def x(self, moment: datetime) -> float:
        offset = (moment - self.start).total_seconds() / self.seconds
        return round(LABEL_WIDTH + min(max(offset, 0.0), 1.0) * self.width, 1)


def _span(step: Step, scale: _Scale, mid: float) -> str:
    x = scale.x(step.start)
    width = max(scale.x(step.end) - x, MIN_SPAN)
    extra = ""
    if step.failed:
        extra = f' stroke="{FAILED_COLOUR}" stroke-width="2"'
    elif step.ongoing:
        extra = ' stroke="#1f2937" stroke-width="1" stroke-dasharray="3 2"'
    opacity = ' fill-opacity="0.6"' if step.ongoing else ""
    return (
        f"<rect {_attrs(x=x, y=mid - BAR / 2, width=round(width, 1), height=BAR, rx=2)} "
        f'fill="{COLOURS[step.kind]}"{opacity}{extra}/>'
    )


def _mark(step: Step, mid: float, x: float) -> str:
    colour = COLOURS[step.kind]
    if step.kind is StepKind.SWITCH:
        return (
            f'<line {_attrs(x1=x, y1=mid - 10, x2=x, y2=mid + 10)} stroke="{colour}" '
            f'stroke-width="2"/><path d="M{x} {mid - 5} l5 5 l-5 5 l-5 -5 z" fill="{colour}"/>'
        )
    if step.kind is StepKind.CHECK:
        fill = FAILED_COLOUR if step.failed else PENDING_COLOUR if step.ongoing else colour
        return f'<circle {_attrs(cx=x, cy=mid, r=3.5)} fill="{fill}" stroke="#ffffff"/>'
    if step.kind is StepKind.ROLLBACK:
        return f'<path d="M{x} {mid} l8 -7 v14 z" fill="{colour}"/>'
    if step.kind is StepKind.FAILED:
        return (
            f'<path d="M{x - 5} {mid - 5} l10 10 m0 -10 l-10 10" stroke="{colour}" '
            'stroke-width="2.5"/>'
        )
    return f'<rect {_attrs(x=x - 4, y=mid - 4, width=8, height=8)} fill="{colour}"/>'


def _step(step: Step, lane: Lane, scale: _Scale, mid: float) -> str:
    drawn = _span(step, scale, mid) if step.kind in SPANS else _mark(step, mid, scale.x(step.start))
    state = "failed" if step.failed else "ongoing" if step.ongoing else "done"
    return (
        f"<g {_attrs(data_step=step.kind.value, data_state=state, data_revision=lane.revision)}>"
        f"<title>{escape(step.label)}</title>{drawn}</g>"
    )


def _lane(lane: Lane, index: int) -> Iterable[str]:
    top = index * LANE
    mid = top + CAPTION + (LANE - CAPTION) / 2
    if index % 2:
        yield f'<rect {_attrs(x=0, y=top, width=WIDTH, height=LANE)} fill="#f4f5f7"/>'
    yield (
        f'<text {_attrs(x=6, y=top + 14)} font-size="11" font-family="monospace" '
        f'fill="#1f2937">{escape(lane.revision[:10] or "?")}</text>'
        f'<text {_attrs(x=6, y=top + 28)} font-size="10" fill="#495057">'
        f"{escape(lane.outcome)}</text>"
    )
    if not lane.steps:
        return
    scale = _Scale(lane)
    took = format_duration((scale.end - scale.start).total_seconds())
    caption = (
        f"{format_time(scale.start)} · {lane.image}" if lane.image else format_time(scale.start)
    )
    yield (
        f'<text {_attrs(x=LABEL_WIDTH, y=top + 11)} font-size="9" fill="#868e96">'
        f"{escape(caption)}</text>"
        f'<text {_attrs(x=WIDTH - RIGHT, y=top + 11, text_anchor="end")} font-size="9" '
        f'fill="#868e96">{took}</text>'
    )
    # Spans first, marks on top of them.
    for step in sorted(lane.steps, key=lambda s: s.kind not in SPANS):
        yield _step(step, lane, scale, mid)


def _legend(y: float) -> Iterable[str]:
    x = float(LABEL_WIDTH)
    for kind in LEGEND_KINDS:
        yield f'<rect {_attrs(x=x, y=y - 8, width=10, height=10)} fill="{COLOURS[kind]}"/>'
        yield f'<text {_attrs(x=x + 14, y=y + 1)} font-size="10" fill="#495057">{kind.value}</text>'
        x += 14 + 7 * len(kind.value) + 16


def render_svg(timeline: Timeline) -> str:
    """The timeline as one ``<svg>`` element, one lane per attempt, sized by its lanes.

    Each lane has its own time scale (its start and length are written above it).
    """
    if not timeline.lanes:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" {_attrs(viewBox=f"0 0 {WIDTH} {LANE}")} '
            f'class="timeline" role="img" aria-label="no release recorded yet">'
            f'<text {_attrs(x=6, y=LANE / 2 + 4)} font-size="12" fill="#495057">'
            "No release recorded yet.</text></svg>"
        )
    bottom = len(timeline.lanes) * LANE
    height = bottom + LEGEND
    summary = "; ".join(f"{lane.revision} {lane.outcome}" for lane in timeline.lanes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {_attrs(viewBox=f"0 0 {WIDTH} {height}")} '
        f'class="timeline" role="img" '
        f"{_attrs(aria_label=f'recent releases of {timeline.name}: {summary}')}>"
    ]
    for index, lane in enumerate(timeline.lanes):
        parts.extend(_lane(lane, index))
    parts.extend(_legend(bottom + LEGEND / 2 + 2))
    parts.append("</svg>")
    return "".join(parts)
