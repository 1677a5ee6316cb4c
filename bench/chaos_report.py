"""The BENCHMARKS.md section of the chaos matrix (``make chaos``; ``.chaos/results.jsonl``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def section(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    violations = sum(len(r["violations"]) for r in rows)
    out = [
        "## Faults in every phase (chaos matrix)",
        "",
        "`make chaos` (CI runs one phase per fault): two replicas electing a leader, a release "
        "v1 → v2 (2 replicas on KWOK, a smoke check, a 12 s hold); when the watch-based invariant "
        "watcher sees the phase, the fault is injected. *Recovered*: from the injection to the "
        "fault-free end state (Complete, Ready, only the wanted revision's Deployment left). A "
        "replica that lost its Lease exits and is restarted, as the kubelet would.",
        "",
        "| fault | phase | phase seen at injection | violations | end state | recovered |",
        "|---|---|---|---:|---|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['fault']} | {r['phase']} | {r['phase_at_injection']} | {len(r['violations'])} "
            f"| {r['end_state']} | {r['recovered_s']:.1f} s |"
        )
    out += [
        "",
        f"{len(rows)} runs, {violations} invariant violations. A fault that lands after the "
        "phase it aimed at (the phase lasted less than the injection took) is listed with the "
        "phase it met. Recovery includes the rest of the release (readiness, checks, the hold), "
        "so it is an upper bound of the fault's own cost.",
        "",
    ]
    return out
