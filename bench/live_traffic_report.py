"""The BENCHMARKS.md section of the live-traffic run (``.chaos/live-traffic.jsonl``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.stats import percentile


def section(rows: list[dict[str, Any]]) -> list[str]:
    releases = [r for r in rows if "kind" in r]
    summaries = [r for r in rows if r.get("summary")]
    if not releases or not summaries:
        return []
    summary = summaries[-1]
    explained = {r["release"]: r for r in rows if "failures" in r}
    by_fault: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in releases:
        by_fault[r["fault"]].append(r)
    out = [
        "## Live traffic: releases and rollbacks back to back under random faults",
        "",
        f"`make chaos` (CI runs {min(6, len(releases))}): {summary['releases']} releases of the "
        "demo app on the real node (kubelet, containerd, kube-proxy), two elected operator "
        "replicas, a load generator sending GETs through the stable Service's ClusterIP the whole "
        "time (two workers, a new connection per request, about 100 per second). About a "
        "quarter of the releases (drawn) have a failing hold check and must end RolledBack on "
        "the last good revision; the others must end Complete on their own. Each gets a fault "
        "drawn at random "
        f"(seed {summary['seed']}), injected when the release reaches a phase drawn at random. "
        "*Recovered*: from the injection to the fault-free end state.",
        "",
        "| fault | releases | rollbacks among them | requests | failed | recovered p50 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for fault in sorted(by_fault):
        group = by_fault[fault]
        recovered = [float(r["recovered_s"]) for r in group]
        out.append(
            f"| {fault} | {len(group)} | {sum(r['kind'] == 'rollback' for r in group)} "
            f"| {sum(r['requests'] for r in group)} | {sum(r['failed'] for r in group)} "
            f"| {percentile(recovered, 50):.1f} s | {max(recovered):.1f} s |"
        )
    out += [
        "",
        f"Requests sent: {summary['requests']}; failed: {summary['failed']}. Invariant "
        f"violations: {len(summary['violations'])}. Releases that ended elsewhere than the "
        f"fault-free run: {len(summary['wrong_end_states'])}. Operator replica restarts (a "
        f"replica that lost its Lease exits): {summary['replica_restarts']}.",
        "",
    ]
    for number, line in sorted(explained.items()):
        out.append(
            f"- release {number}: {line['failures']} from {line['first_s']} s to "
            f"{line['last_s']} s after the injection; selector moves at {line['selector_moves_s']}"
        )
    if explained:
        out.append("")
    return out
