"""The BENCHMARKS.md section of ``bench/failover.py``."""

from __future__ import annotations

from typing import Any


def section(failover: dict[str, Any] | None) -> list[str]:
    if not failover:
        return []
    timings = failover["timings"]
    take, act = failover["takeover_ms"], failover["first_act_ms"]
    target = failover["target_ms"]
    verdict = "met" if act.get("p99", target + 1) < target else "missed"
    return [
        "## Leader failover",
        "",
        f"Two replicas elect on a Lease (lease {timings['lease_duration']} s, renew deadline "
        f"{timings['renew_deadline']} s, retry {timings['retry_period']} s: the defaults). "
        f"{failover['trials']} trials: SIGKILL the leader and, at the same instant, change a "
        "release's spec; the killed process then returns as the next standby. *Takeover*: the "
        "Lease names the standby. *First act*: the release's status shows the new generation, "
        f"a write only a leader's reconcile makes. Sampled every {failover['poll_ms']:.0f} ms.",
        "",
        "| from SIGKILL to | n | p50 | p99 | max |",
        "|---|---:|---:|---:|---:|",
        f"| takeover (Lease holder changed) | {take['n']} | {take['p50'] / 1000:.1f} s "
        f"| {take['p99'] / 1000:.1f} s | {take['max'] / 1000:.1f} s |",
        f"| first act (status written) | {act['n']} | {act['p50'] / 1000:.1f} s "
        f"| {act['p99'] / 1000:.1f} s | {act['max'] / 1000:.1f} s |",
        "",
        f"Target: first act under {target / 1000:.0f} s with default timings: {verdict}. The "
        "floor is the lease duration: the standby waits that long after it last saw the Lease "
        "change, then up to one retry period for its next attempt, then kopf starts and lists.",
        "",
    ]
