"""``python -m bench``: run the benchmarks on the cluster of $BLUEGREEN_CLUSTER_DIR.

Raw results go to bench/results/<name>.json; BENCHMARKS.md is rendered from them.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.integration.harness import REPO, Kubectl

from bench import check_safety, failover, imports, latency, memory, report, scale
from bench.cluster import api_client, cluster_env, machine


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    only = set(args.only or ("latency", "memory", "checks", "failover", "scale", "report"))
    out: Path = args.results
    out.mkdir(parents=True, exist_ok=True)

    env = cluster_env()
    if only - {"report"}:
        k = Kubectl(env)
        k.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        k.run(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/bluegreenreleases.bluegreen.dev",
        )
        api = api_client(env)
        _write(out / "machine.json", {**machine(env), "started": _now()})
    if "latency" in only:
        if args.changes:
            _log(f"latency: {args.changes} changes over {args.releases} releases")
            result = latency.run(
                env, api, out, changes=args.changes, releases=args.releases, replicas=args.replicas
            )
            _write(out / "latency.json", {**result, "finished": _now()})
            _log(f"latency: {json.dumps(result['summary_ms'])}")
        if args.traced_changes:
            _log(f"latency (traced, breakdown): {args.traced_changes} changes")
            traced = latency.run(
                env,
                api,
                out,
                changes=args.traced_changes,
                releases=args.releases,
                replicas=args.replicas,
                traced=True,
            )
            _write(out / "latency-traced.json", {**traced, "finished": _now()})
            _log(f"latency (traced): {json.dumps(traced['summary_ms'])}")
    if "memory" in only:
        _log("memory: import costs")
        _write(out / "imports.json", imports.run())
        _log(f"memory: {args.memory_releases} concurrent releases")
        result = memory.run(
            env, api, out, count=args.memory_releases, replicas=args.memory_replicas
        )
        _write(out / "memory.json", {**result, "finished": _now()})
        _log(
            f"memory: peak {result['operator_peak_mib']} MiB, "
            f"all Ready in {result['all_ready_v2_s']} s"
        )
        if args.memory_diagnose:
            _log("memory (tracemalloc): where the heap goes")
            result = memory.run(
                env,
                api,
                out,
                count=args.memory_releases,
                replicas=args.memory_replicas,
                diagnose=True,
            )
            _write(out / "memory-diagnose.json", {**result, "finished": _now()})
    if "checks" in only:
        _checks(args, env, out)
    if "failover" in only:
        _failover(args.failover_trials, env, api, out)
    if "scale" in only:
        _scale(args, env, api, out)
    if "report" in only:
        args.report.write_text(report.render(out))
        _log(f"wrote {args.report}")
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--only",
        choices=("latency", "memory", "checks", "failover", "scale", "report"),
        action="append",
    )
    parser.add_argument("--failover-trials", type=int, default=20)
    parser.add_argument(
        "--changes", type=int, default=100, help="sequential template changes (0: skip)"
    )
    parser.add_argument("--releases", type=int, default=5, help="releases the changes rotate over")
    parser.add_argument("--replicas", type=int, default=2, help="replicas per latency release")
    parser.add_argument("--traced-changes", type=int, default=40, help="0: no breakdown pass")
    parser.add_argument("--memory-releases", type=int, default=100)
    parser.add_argument("--memory-replicas", type=int, default=1)
    parser.add_argument(
        "--memory-diagnose",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a second memory pass under tracemalloc: where the heap goes",
    )
    parser.add_argument(
        "--scale-releases",
        default="100,300,1000",
        help="comma-separated counts of concurrent releases on one replica",
    )
    parser.add_argument("--scale-shards", type=int, default=3, help="shards for the last run")
    parser.add_argument(
        "--scale-sharded-releases", type=int, default=1000, help="0: no sharded run"
    )
    check_safety.add_arguments(parser)
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--report", type=Path, default=REPO / "BENCHMARKS.md")
    return parser.parse_args(argv)


def _failover(trials: int, env: dict[str, str], api: Any, out: Path) -> None:
    _log(f"failover: {trials} leader kills")
    result = failover.run(env, api, out, trials=trials)
    _write(out / "failover.json", {**result, "finished": _now()})
    _log(f"failover: first act {json.dumps(result['first_act_ms'])}")


def _scale(args: argparse.Namespace, env: dict[str, str], api: Any, out: Path) -> None:
    runs = [(int(n), 1) for n in str(args.scale_releases).split(",") if n.strip()]
    if args.scale_sharded_releases:
        runs.append((args.scale_sharded_releases, args.scale_shards))
    for count, shards in runs:
        _log(f"scale: {count} releases, {shards} shard(s)")
        result = scale.run(env, api, out, count=count, shards=shards)
        _write(out / f"scale-{count}-{shards}.json", {**result, "finished": _now()})
        _log(
            f"scale: {result['requests_per_release']} requests/release, "
            f"Available->switch {json.dumps(result['available_to_switch_ms'])}, "
            f"RSS {result['operator_peak_rss_mib']}"
        )


def _checks(args: argparse.Namespace, env: dict[str, str], out: Path) -> None:
    _log(f"checks: {args.check_releases} releases of hostile checks, liveness probed")
    result = check_safety.run(
        env,
        out,
        releases=args.check_releases,
        duration=args.check_seconds,
        baseline=args.check_baseline_seconds,
    )
    _write(out / "checks.json", {**result, "finished": _now()})
    _log(f"checks: liveness {json.dumps(result['hostile_ms'])}")
    if args.check_traced_seconds:
        _log("checks (traced): where the probe's tail comes from")
        trace = out / "checks-trace.jsonl"
        trace.unlink(missing_ok=True)
        traced = check_safety.run(
            env,
            out,
            releases=args.check_releases,
            duration=args.check_traced_seconds,
            baseline=args.check_baseline_seconds,
            trace=trace,
        )
        _write(out / "checks-traced.json", {**traced, "finished": _now()})
        _log(f"checks (traced): {json.dumps(traced['loop'])}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
