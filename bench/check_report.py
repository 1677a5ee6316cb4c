"""The BENCHMARKS.md section of the hostile-check pass (``bench/results/checks.json``)."""

from __future__ import annotations

from typing import Any


def _ms(value: Any) -> str:
    return "n/a" if value is None else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _row(label: str, s: dict[str, Any], failures: list[str]) -> str:
    return (
        f"| {label} | {s.get('n', 0)} | {len(failures)} | {_ms(s.get('p50'))} | "
        f"{_ms(s.get('p99'))} | {_ms(s.get('max'))} |"
    )


def section(checks: dict[str, Any] | None, traced: dict[str, Any] | None = None) -> list[str]:
    if not checks:
        return []
    hostile, idle = checks["hostile_ms"], checks["idle_ms"]
    target = checks["target_ms"]
    worst = hostile.get("max")
    verdict = "met" if worst is not None and worst <= target else "missed"
    results = checks.get("check_results") or {}
    ran = ", ".join(f"{int(v)} {k}" for k, v in sorted(results.items())) or "none finished"
    return [
        "## Hostile checks and the liveness probe",
        "",
        f"{checks['releases']} releases of {checks['checks_per_release']} smoke checks each, "
        "all running at once against misbehaving servers on 127.0.0.1 (a separate process): "
        "a body trickled one byte per second, headers trickled likewise, a 1 MiB body whose "
        "expected text lies past the 64 KiB read cap, `(a+)+$`, `(a|aa)+$` and `(.*a){20}$` "
        "on a 64 KiB `aaaa…b` body, an endless chunked body, endless headers, a gzip bomb, a "
        "redirect; and refused targets (169.254.169.254, the operator's own metrics and "
        "liveness ports). Timeouts up to 60 s and up to 10 attempts, within the spec's caps. "
        "A release whose checks failed got a new revision at once, so checks ran for the "
        f"whole {checks['window_s']:.0f} s window ({checks['revisions_applied']} revisions "
        f"applied; check results recorded: {ran}). A thread of the benchmark GETs `/healthz` "
        f"on the liveness port every {checks['probe_interval_ms']:.0f} ms; each sample is one "
        "probe's round trip, new connection included, as a kubelet sees it.",
        "",
        "| liveness probe | n | failed | p50 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
        _row("idle operator (baseline)", idle, checks.get("idle_failures") or []),
        _row("during the hostile checks", hostile, checks.get("hostile_failures") or []),
        "",
        f"Target: nothing a release author writes delays the probe by more than "
        f"{target:.0f} ms. Worst probe during the hostile checks: {_ms(worst)} ({verdict}); "
        f"{checks.get('hostile_over_target', 'n/a')} of {hostile.get('n', 0)} probes took "
        f"over {target:.0f} ms. The same cores run the control plane, the hostile servers "
        "(niced: they stand for other machines), the benchmark and whatever else the machine "
        "does: the tail includes their competition for CPU, not only the operator's work.",
        "",
        *_bystander(checks),
        *_loop(traced),
    ]


def _bystander(checks: dict[str, Any]) -> list[str]:
    by = checks.get("bystander_ms")
    if not by:
        return []
    lines = [
        "Another release, with no checks, changed again each time it is Ready: its reaction "
        "times, from watch events as in the latency benchmark, while the operator is idle "
        "and while the hostile checks run.",
        "",
        "| bystander release | window | n | p50 | p99 | max |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for key, label in (
        ("spec_to_candidate", "spec change → candidate created"),
        ("available_to_switch", "Available → selector patched"),
    ):
        for window in ("idle", "hostile"):
            s = by.get(window, {}).get(key, {})
            lines.append(
                f"| {label} | {window} | {s.get('n', 0)} | {_ms(s.get('p50'))} | "
                f"{_ms(s.get('p99'))} | {_ms(s.get('max'))} |"
            )
    before, after = checks.get("load_average_before"), checks.get("load_average_after")
    if before and after:
        lines += [
            "",
            f"Load average (1 min) on the {checks.get('cores', 'shared')} cores: "
            f"{before[0]:.1f} before the pass, {after[0]:.1f} after it.",
        ]
    return [*lines, ""]


def _loop(traced: dict[str, Any] | None) -> list[str]:
    loop = (traced or {}).get("loop")
    if not traced or not loop:
        return []
    t = traced["hostile_ms"]
    return [
        f"A second, traced pass ({traced['window_s']:.0f} s, the same load; probe p99 "
        f"{_ms(t.get('p99'))}, max {_ms(t.get('max'))}) records the operator's event loop "
        "from inside: a task wakes every 10 ms and reports each wake-up over 20 ms late "
        f"with the CPU time the operator used meanwhile. {loop['lags_over_20ms']} such lags, "
        f"{loop['lags_over_100ms']} over 100 ms, the longest {_ms(loop['max_lag_ms'])}; the "
        f"most CPU the operator used during any of them was {_ms(loop['max_cpu_in_a_lag_ms'])}, "
        f"and its longest garbage collection took {_ms(loop['max_gc_ms'])}. A lag with little "
        "CPU is the process waiting for a core, not work holding its loop: no check "
        "(regex, body, slow server) held the event loop for longer than that CPU figure.",
        "",
    ]
