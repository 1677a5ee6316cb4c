"""Where the operator's reaction time goes, from the traced pass (bench/traced_operator.py).

For each change, the step that carried out the measured action (the stable
selector patch, or the candidate's creation) is found in the trace and split:

- ``event_to_step``: the bench saw the triggering watch event -> the step that
  acted began (watch delivery to the operator, kopf dispatch, the wake-up, and
  any step already running for an earlier event; negative when the operator
  learnt first, e.g. woken by the pod that made the Deployment Available);
- ``get_release``: the step's GET of the release;
- ``observe``: the step's parallel GETs (Deployments, Services, EndpointSlices,
  pods, Jobs);
- ``decide``: the pure state machine;
- ``actions_before``: the actions the step ran before the measured one (Events);
- ``request``: the measured request itself;
- ``to_watch``: its response -> the bench's watch event of the change.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import summary

Trace = list[dict[str, Any]]
PARTS = (
    "event_to_step",
    "get_release",
    "observe",
    "decide",
    "actions_before",
    "request",
    "to_watch",
)


def load(path: Path) -> Trace:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _split(
    trace: Trace,
    name: str,
    seen_event: float,
    seen_result: float,
    is_target: Callable[[dict[str, Any]], bool],
) -> dict[str, Any] | None:
    requests = [r for r in trace if r["kind"] == "request"]
    target = next(
        (
            r
            for r in reversed(requests)
            if is_target(r) and r["start"] <= seen_result and r["end"] >= seen_event - 1.0
        ),
        None,
    )
    if target is None:
        return None
    release_path = f"/bluegreenreleases/{name}"
    get_release = next(
        (
            r
            for r in reversed(requests)
            if r["method"] == "GET"
            and r["path"].endswith(release_path)
            and r["end"] <= target["start"]
        ),
        None,
    )
    if get_release is None:
        return None
    step_start = get_release["start"]
    observe = next(
        (
            e
            for e in trace
            if e["kind"] == "observe"
            and e["name"] == name
            and e["start"] >= get_release["end"] - 1e-3
        ),
        None,
    )
    decide = next(
        (
            e
            for e in trace
            if e["kind"] == "decide" and e["name"] == name and e["start"] >= step_start
        ),
        None,
    )
    wakes = [e for e in trace if e["kind"] == "wake" and e["name"] == name and e["t"] <= step_start]
    wake = max(wakes, key=lambda e: e["t"]) if wakes else None
    before = [
        e
        for e in trace
        if e["kind"] == "action"
        and e["name"] == name
        and decide is not None
        and e["start"] >= decide["end"]
        and e["end"] <= target["start"]
    ]
    steps = sum(
        1
        for r in requests
        if r["method"] == "GET"
        and r["path"].endswith(release_path)
        and seen_event <= r["start"] <= target["start"]
    )
    parts: dict[str, Any] = {
        "event_to_step": step_start - seen_event,
        "wake_source": wake.get("source") if wake else None,
        "wake_after_event": (wake["t"] - seen_event) if wake else None,
        "get_release": get_release["end"] - get_release["start"],
        "observe": (observe["end"] - observe["start"]) if observe else None,
        "decide": (decide["end"] - decide["start"]) if decide else None,
        "actions_before": sum(a["end"] - a["start"] for a in before),
        "actions_before_names": [a["action"] for a in before],
        "request": target["end"] - target["start"],
        "to_watch": seen_result - target["end"],
        "steps_since_event": steps,
    }
    return parts


def _is_selector_patch(request: dict[str, Any], service: str) -> bool:
    return bool(request["method"] == "PATCH" and request["path"].endswith(f"/services/{service}"))


def breakdown(rows: list[dict[str, Any]], trace_path: Path) -> dict[str, Any]:
    trace = load(trace_path)
    switch_parts, create_parts = [], []
    for row in rows:
        name = row["release"]
        if row.get("t_available") and row.get("t_switched"):
            got = _split(
                trace,
                name,
                row["t_available"],
                row["t_switched"],
                functools.partial(_is_selector_patch, service=name),
            )
            if got:
                window = (row["t_available"], row["t_switched"])
                got["loop_stalled"] = _overlap(trace, "lag", *window)
                got["gc"] = _overlap(trace, "gc", *window)
                switch_parts.append({"release": name, "version": row["version"], **got})
        if row.get("t_spec") and row.get("t_added"):
            got = _split(
                trace,
                name,
                row["t_spec"],
                row["t_added"],
                lambda r: r["method"] == "POST" and r["path"].endswith("/deployments"),
            )
            if got:
                create_parts.append({"release": name, "version": row["version"], **got})
    return {
        "available_to_switch": {
            "per_change": switch_parts,
            "summary_ms": _summaries(switch_parts),
        },
        "spec_to_candidate": {
            "per_change": create_parts,
            "summary_ms": _summaries(create_parts),
        },
        "requests_per_change": _requests_per_change(rows, trace),
        "stalls": _stalls(trace),
    }


def _overlap(trace: Trace, kind: str, start: float, end: float) -> float:
    """Seconds of ``kind`` intervals (loop lag, collections) inside [start, end]."""
    return float(
        sum(
            max(0.0, min(e["end"], end) - max(e["start"], start))
            for e in trace
            if e["kind"] == kind
        )
    )


def _stalls(trace: Trace) -> dict[str, Any]:
    """Garbage collections and event-loop lag over the whole traced pass."""
    gcs = [e for e in trace if e["kind"] == "gc"]
    lags = [e for e in trace if e["kind"] == "lag"]
    lag_total = sum(e["end"] - e["start"] for e in lags)
    span = [float(e["start"]) for e in trace if e["kind"] == "request"]
    return {
        "seconds_traced": round(max(span) - min(span), 1) if span else 0,
        "gc_gen2_ms": summary([e["end"] - e["start"] for e in gcs if e["generation"] == 2]),
        "gc_younger_over_2ms_ms": summary(
            [e["end"] - e["start"] for e in gcs if e["generation"] != 2]
        ),
        "loop_lag_ms": summary([e["end"] - e["start"] for e in lags]),
        "loop_lag_total_s": round(lag_total, 2),
        "loop_lag_cpu_share": round(sum(e["cpu"] for e in lags) / lag_total, 2)
        if lag_total
        else None,
    }


def _summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: summary([p[key] for p in parts if isinstance(p.get(key), int | float)])
        for key in (*PARTS, "wake_after_event", "loop_stalled", "gc")
    }


def _resource(path: str) -> str:
    """``/apis/apps/v1/namespaces/ns/deployments/x/status`` -> ``deployments/status``."""
    parts = path.strip("/").split("/")
    if "namespaces" not in parts:
        return path
    rest = parts[parts.index("namespaces") + 2 :]
    return "/".join([rest[0], *rest[2:3]]) if rest else "namespaces"


def _requests_per_change(rows: list[dict[str, Any]], trace: Trace) -> dict[str, Any]:
    """API requests the operator made from a change's spec event to Ready, by verb and resource.

    Changes run one at a time and idle releases make no requests, so every
    request in the window belongs to the change.
    """
    counts: list[dict[str, int]] = []
    for row in rows:
        if not (row.get("t_spec") and row.get("t_ready")):
            continue
        per: dict[str, int] = {}
        for r in trace:
            if r["kind"] == "request" and row["t_spec"] <= r["start"] <= row["t_ready"]:
                key = f"{r['method']} {_resource(r['path'])}"
                per[key] = per.get(key, 0) + 1
        counts.append(per)
    if not counts:
        return {"changes": 0}
    keys = sorted({k for c in counts for k in c})
    mean = {k: round(sum(c.get(k, 0) for c in counts) / len(counts), 1) for k in keys}
    return {
        "changes": len(counts),
        "mean_per_change": mean,
        "mean_total": round(sum(sum(c.values()) for c in counts) / len(counts), 1),
    }
