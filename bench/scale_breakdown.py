"""Where the switch latency of a traced scale run goes (``bench.scale --trace``).

For each release's v2 change, from the bench's own watch event showing the
candidate Available to its watch event showing the stable selector patched,
the trace of the operator (bench/traced_operator.py) is split into:

- ``to_wake``: the bench saw the candidate Available -> the operator's watch
  woke the release (watch delivery to the operator, the cache, the wake-up;
  negative when the operator heard first);
- ``wake_to_step``: that wake-up -> the step that switched began observing
  (the release's loop busy with an earlier step, or the event loop busy with
  other releases' work);
- ``observe`` and ``decide``: reading the caches, and the pure state machine;
- ``switch``: the selector patch action (the candidate's re-read when the
  watch's copy is older than a second, and the conditional patch);
- ``to_watch``: the patch's response -> the bench's watch event of it.

The loop's lag (a 10 ms timer run late) inside each window says how much of
it the event loop had no time for the release. Steps read from the operator's
watch caches, so a step begins with its observe, not with a request.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.breakdown import load
from bench.stats import summary

Trace = list[dict[str, Any]]
PARTS = ("to_wake", "wake_to_step", "observe", "decide", "switch", "to_watch")


def split_switch(by_name: Trace, t_available: float, t_switched: float) -> dict[str, float] | None:
    """One release's switch, from its own trace entries (in time order)."""
    decide = _last(
        by_name,
        lambda e: (
            e["kind"] == "decide"
            and "PatchSelector" in e.get("actions", ())
            and e["start"] <= t_switched
        ),
    )
    if decide is None:
        return None
    observe = _last(by_name, lambda e: e["kind"] == "observe" and e["end"] <= decide["start"])
    patch = _first(
        by_name,
        lambda e: (
            e["kind"] == "action" and e["action"] == "PatchSelector" and e["start"] >= decide["end"]
        ),
    )
    if observe is None or patch is None:
        return None
    step_start = observe["start"]
    wakes = [e for e in by_name if e["kind"] == "wake" and e["t"] <= step_start]
    # The wake-up that brought the news: the first one after the bench saw it, or the
    # last one before the step when the operator heard earlier.
    after = [e for e in wakes if e["t"] >= t_available]
    wake = after[0] if after else (wakes[-1] if wakes else None)
    woke = wake["t"] if wake else step_start
    return {
        "to_wake": woke - t_available,
        "wake_to_step": step_start - woke,
        "observe": observe["end"] - observe["start"],
        "decide": decide["end"] - decide["start"],
        "switch": patch["end"] - patch["start"],
        "to_watch": t_switched - patch["end"],
    }


def _last(entries: Trace, test: Any) -> dict[str, Any] | None:
    return next((e for e in reversed(entries) if test(e)), None)


def _first(entries: Trace, test: Any) -> dict[str, Any] | None:
    return next((e for e in entries if test(e)), None)


def _lag_within(lags: Trace, start: float, end: float) -> float:
    return sum(max(0.0, min(e["end"], end) - max(e["start"], start)) for e in lags)


def breakdown(rows: list[dict[str, Any]], trace: Trace) -> dict[str, Any]:
    by_name: dict[str, Trace] = defaultdict(list)
    lags = [e for e in trace if e["kind"] == "lag"]
    for entry in trace:
        if "name" in entry:
            by_name[entry["name"]].append(entry)
    for entries in by_name.values():
        entries.sort(key=lambda e: e.get("start", e.get("t", 0.0)))
    parts = []
    for row in rows:
        if row.get("version") != "v2" or not (row.get("t_available") and row.get("t_switched")):
            continue
        got = split_switch(by_name[row["release"]], row["t_available"], row["t_switched"])
        if got is None:
            continue
        got["total"] = row["t_switched"] - row["t_available"]
        got["loop_lag"] = _lag_within(lags, row["t_available"], row["t_switched"])
        parts.append({"release": row["release"], **got})
    slowest = sorted(parts, key=lambda p: p["total"])[-max(1, len(parts) // 100) :]
    return {
        "changes": len(parts),
        # A trace of steps that failed (or of probes that did) times the failures and
        # their retries, not the operator's work: these must be 0 to read the rest.
        "failed_reconciles": sum(1 for e in trace if e["kind"] == "reconcile" and e.get("error")),
        "failed_probes": sum(1 for e in trace if e.get("probe_error")),
        "summary_ms": {
            key: summary([p[key] for p in parts]) for key in (*PARTS, "total", "loop_lag")
        },
        # The slowest 1%: which part their time went to, on average.
        "slowest_mean_ms": {
            key: round(1000 * sum(p[key] for p in slowest) / len(slowest), 1)
            for key in (*PARTS, "total", "loop_lag")
        }
        if slowest
        else {},
    }


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    result_path, trace_path = Path(args[0]), Path(args[1])
    rows = json.loads(result_path.read_text())["rows"]
    print(json.dumps(breakdown(rows, load(trace_path)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
