"""Many releases at once on one operator replica, or on several shards.

``count`` releases spread over ``namespaces`` namespaces (KWOK nodes, 1-3
replicas each, drawn; no checks, hold 0; Services through plain API calls)
are created and become Ready on v1, then all change to v2 at once. Measured
over the v2 phase: candidate Available -> stable selector patched (from the
bench's own watches), the API requests of the operator as the API server's
audit log records them (by user agent), CPU seconds of the operator(s) and
the API server, and the operators' peak RSS (VmHWM). With ``shards`` > 1,
that many elected operators split the namespaces; the audit log must show
every namespace written by one shard only.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client
from tests.integration.harness import REPO, Kubectl, free_port, wait_for

from bench.cluster import GROUP, PLURAL, VERSION, Recorder, Sampler, cluster_pids, rss_kib
from bench.compare.audit import events_between, resource_of
from bench.compare.common import CompareNodes, pod_template
from bench.latency import Change, analyse, release_body
from bench.memory import _ready_times, _wait_all
from bench.stats import summary

OPERATOR_AGENTS = ("bluegreen-operator/", "kopf/")
WRITE_VERBS = {"create", "patch", "update", "delete"}
TARGETS = {"requests_per_release": 15, "peak_rss_mib": 200, "available_to_switch_p99_ms": 500}
THREADS = 10
READINESS_SECONDS = 900


class ClusterRecorder(Recorder):
    """The bench's own watches, over every namespace (release names are unique)."""

    def start(self) -> None:
        import threading

        apps, core = client.AppsV1Api(self.api), client.CoreV1Api(self.api)
        custom = client.CustomObjectsApi(self.api)
        sources: dict[str, tuple[Any, tuple[Any, ...]]] = {
            "deployment": (apps.list_deployment_for_all_namespaces, ()),
            "service": (core.list_service_for_all_namespaces, ()),
            "release": (custom.list_cluster_custom_object, (GROUP, VERSION, PLURAL)),
        }
        for kind, (func, args) in sources.items():
            threading.Thread(
                target=self._run, args=(kind, func, args), name=f"watch-{kind}", daemon=True
            ).start()
        wait_for("the bench's watches", lambda: all(self._started.values()), timeout=30)


class OperatorProcess:
    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        *flags: str,
        trace: Path | None = None,
        heap: bool = False,
    ) -> None:
        """``trace``: run the traced operator instead, with tracemalloc when ``heap`` (a
        diagnosis, not a headline figure: tracing costs memory and CPU of its own)."""
        self.metrics_port, self.liveness_port = free_port(), free_port()
        if trace is not None:
            env = {**env, "BENCH_TRACE_FILE": str(trace)}
            if heap:
                env["BENCH_TRACEMALLOC"] = "10"
        args = [
            sys.executable,
            "-m",
            "bench.traced_operator" if trace is not None else "bluegreen",
            "--metrics-port",
            str(self.metrics_port),
            "--liveness-port",
            str(self.liveness_port),
            "--infrastructure",
            "kubernetes",
            "--drift-interval",
            "0",
            # The overloaded cluster's EndpointSlice controller, not the operator, may
            # take minutes to show a switch: the operator would rightly undo it.
            "--switch-timeout",
            "900",
            *flags,
        ]
        self.args, self.env, self.log = args, {**env, "PYTHONPATH": str(REPO)}, log
        self.exits: list[tuple[float, int]] = []
        """(monotonic time, exit code) of each time the process ended before ``stop``."""
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(self.args, env=self.env, stdout=out, stderr=out, cwd=REPO)

    def restart_if_exited(self) -> bool:
        """What a Deployment's pod would get: an operator that exited (a shard's leader
        that could not renew its Lease stands down by exiting) is started again."""
        code = self.process.poll()
        if code is None:
            return False
        self.exits.append((time.monotonic(), code))
        self.process = self._spawn()
        return True

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def run(
    env: dict[str, str],
    api: client.ApiClient,
    out: Path,
    *,
    count: int,
    namespaces: int = 10,
    shards: int = 1,
    replicas: tuple[int, int] = (1, 3),
    seed: int = 20261202,
    trace: Path | None = None,
    heap: bool = False,
) -> dict[str, Any]:
    # Before the bench's own work: how busy others kept the machine's cores.
    load_at_start = _load_average()
    k = Kubectl(env)
    # The cluster `make cluster` starts has no CRD of ours until something installs it.
    k.run("apply", "-f", str(REPO / "crds"))
    k.run("wait", "--for=condition=Established", "--timeout=60s", f"crd/{PLURAL}.{GROUP}")
    tag = uuid.uuid4().hex[:5]
    spaces = [f"bench-scale-{tag}-{n}" for n in range(namespaces)]
    election = f"bench-scale-{tag}-system"
    for space in [*spaces, election]:
        k.run("create", "namespace", space)
    draw = random.Random(seed)
    releases = {
        f"s{tag}-{i:04d}": (spaces[i % namespaces], draw.randint(replicas[0], replicas[1]))
        for i in range(count)
    }
    # Room for both revisions of every release during the switch, off the cluster's
    # own nodes (which take 110 pods each).
    nodes = CompareNodes(env, pods=2 * sum(r for _, r in releases.values()) + 50)
    nodes.ensure()
    recorder = ClusterRecorder(api, "")
    recorder.start()
    operators = _start(env, out, tag, shards, election, spaces, trace, heap)
    pids = {f"operator-{i}": op.pid for i, op in enumerate(operators)}
    sampler = Sampler({**pids, **cluster_pids(env)})
    sampler.start()
    supervisor = Supervisor.running(operators, sampler)
    custom = client.CustomObjectsApi(api)
    try:
        v1_started = time.monotonic()
        _each(custom, releases, "v1", create=True)
        _wait_all(recorder, list(releases), None, timeout=300 + count)
        v1_ready = time.monotonic()
        time.sleep(2)  # the last status writes' echoes settle before the measured phase
        started_wall, started = datetime.now(UTC), time.monotonic()
        changes = _each(custom, releases, "v2", create=False)
        generations = {c.release: c.generation for c in changes}
        _wait_all(recorder, list(releases), generations, timeout=300 + count)
        ended = max(_ready_times(recorder, generations, started).values())
        time.sleep(3)  # the audit log is written in batches
        ended_wall = datetime.now(UTC)
        load_at_end = _load_average()
        peaks = {name: _peak_kib(sampler, name) for name in pids}
        cpu = {who: sampler.cpu_between(who, started, ended) for who in sampler.pids}
    finally:
        supervisor.stop()
        sampler.stop()
        events = recorder.snapshot()
        recorder.stop()
        _tear_down(k, spaces, election, operators, nodes)
    rows = [analyse(change, events) for change in changes]
    audit = Path(env["BLUEGREEN_CLUSTER_DIR"]) / "audit.log"
    requests = _requests(audit, set(spaces), started_wall, ended_wall)
    total = sum(requests.values())
    operator_cpu = sum(v or 0.0 for who, v in cpu.items() if who.startswith("operator-"))
    return {
        "releases": count,
        "namespaces": namespaces,
        "shards": shards,
        "replicas_drawn": dict(sorted(Counter(r for _, r in releases.values()).items())),
        "all_ready_v2_s": round(ended - started, 2),
        "v1_ready_s": round(v1_ready - v1_started, 2),
        "available_to_switch_ms": summary(
            [r["available_to_switch"] for r in rows if r.get("available_to_switch") is not None]
        ),
        "spec_to_switch_ms": summary(
            [r["t_switched"] - r["t_spec"] for r in rows if r.get("t_switched") is not None]
        ),
        "missing_rows": sum(1 for r in rows if r.get("available_to_switch") is None),
        # The bench's own watches listing again (seconds after v2 was sent): a switch
        # that happened while one was down is timed at the next event that shows it.
        "bench_relists": [(kind, round(at - started, 1)) for kind, at in recorder.relists],
        "requests_per_release": round(total / count, 2),
        "requests": {f"{verb} {resource}": n for (verb, resource), n in requests.items()},
        "operator_cpu_s_per_release": round(operator_cpu / count, 4),
        "apiserver_cpu_s_per_release": round((cpu.get("kube-apiserver") or 0.0) / count, 4),
        "cpu_s": cpu,
        "operator_peak_rss_mib": {
            name: round(peak / 1024, 1) if peak else None for name, peak in peaks.items()
        },
        # Exits while measuring (seconds after v1 was sent, exit code); each was restarted.
        "operator_exits": {
            f"operator-{i}": [(round(t - v1_started, 1), code) for t, code in op.exits]
            for i, op in enumerate(operators)
        },
        "writers_per_namespace": _writers(audit, started_wall, ended_wall) if shards > 1 else {},
        "targets": TARGETS,
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_at_end,
        # Every pass keeps its rows, so a tail can be placed in time and by release;
        # bench.scale_breakdown splits a traced pass's rows with its trace
        # (python -m bench.scale_breakdown <this file> <the trace>).
        "rows": rows,
    }


class Supervisor:
    """Restarts operators that exit, once a second, until stopped (a bounded run's life)."""

    def __init__(self, operators: list[OperatorProcess], sampler: Sampler) -> None:
        import threading

        self.operators, self.sampler = operators, sampler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    @classmethod
    def running(cls, operators: list[OperatorProcess], sampler: Sampler) -> Supervisor:
        supervisor = cls(operators, sampler)
        supervisor._thread.start()
        return supervisor

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for i, op in enumerate(self.operators):
                if op.restart_if_exited():
                    self.sampler.replace(f"operator-{i}", op.pid)


def _peak_kib(sampler: Sampler, name: str) -> int | None:
    """The process's own high-water mark, or the highest sample of an earlier process of
    the same name when it was restarted."""
    now = rss_kib(sampler.pids[name])
    sampled = sampler.peak_kib(name)
    candidates = [kib for kib in (now[1] if now else None, sampled) if kib]
    return max(candidates) if candidates else None


def _load_average() -> list[float]:
    """1, 5 and 15 minutes: figures measured on busy cores include the wait for one."""
    return [round(x, 2) for x in os.getloadavg()]


def _start(
    env: dict[str, str],
    out: Path,
    tag: str,
    shards: int,
    election: str,
    spaces: list[str],
    trace: Path | None = None,
    heap: bool = False,
) -> list[OperatorProcess]:
    # Only the bench's namespaces: on a shared cluster, a cluster-wide operator would
    # also act on everybody else's releases.
    watched = [arg for space in spaces for arg in ("--namespace", space)]
    if shards == 1:
        operators = [
            OperatorProcess(
                env, out / f"operator-scale-{tag}.log", *watched, trace=trace, heap=heap
            )
        ]
    else:
        operators = [
            OperatorProcess(
                env,
                out / f"operator-scale-{tag}-shard{i}.log",
                *watched,
                "--leader-elect",
                "--leader-election-namespace",
                election,
                "--shards",
                str(shards),
                "--shard-index",
                str(i),
            )
            for i in range(shards)
        ]
    for op in operators:
        wait_for("operator metrics endpoint", lambda op=op: _up(op), timeout=60)
    return operators


def _up(op: OperatorProcess) -> bool:
    import urllib.request

    if op.process.poll() is not None:
        raise RuntimeError(f"operator exited ({op.process.returncode}); log: {op.log}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics") as response:
            return b"bluegreen_" in response.read()
    except OSError:
        return False


def _each(
    custom: client.CustomObjectsApi,
    releases: dict[str, tuple[str, int]],
    version: str,
    *,
    create: bool,
) -> list[Change]:
    """Create every release, or change every release's template, from a few threads."""

    def one(name: str) -> Change:
        namespace, replicas = releases[name]
        body = release_body(name, version, namespace, replicas)
        body["spec"]["template"] = pod_template(version)
        # The cluster, not the operator, is slow to start 2000 pods on this machine:
        # a candidate must not fail for it.
        body["spec"]["checks"]["readiness"]["timeoutSeconds"] = READINESS_SECONDS
        sent = time.monotonic()
        if create:
            done = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        else:
            patch = {"spec": {"template": body["spec"]["template"]}}
            done = custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, patch
            )
        return Change(name, version, int(done["metadata"]["generation"]), sent)  # type: ignore[index]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, releases))


def _requests(
    audit: Path, spaces: set[str], since: datetime, until: datetime
) -> dict[tuple[str, str], int]:
    """The operator's requests in the window: in the bench's namespaces, or cluster-wide
    (its watches and lists); other operators' namespaced requests are left out."""
    counts: Counter[tuple[str, str]] = Counter()
    for event in events_between(audit, OPERATOR_AGENTS, since, until):
        namespace = (event.get("objectRef") or {}).get("namespace")
        if namespace and namespace not in spaces:
            continue
        counts[(str(event.get("verb", "")), resource_of(event))] += 1
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    """The BlueGreenRelease side of ``make bench-compare``: the same workload as the
    Argo Rollouts harness (one namespace... spread over ten here, 1 replica each)."""
    import argparse
    import json

    from bench.cluster import api_client, cluster_env

    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=1, help="0: drawn from 1-3")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument(
        "--namespaces",
        type=int,
        default=10,
        help="shards split by namespace: with few, the hash can hand one shard most of them",
    )
    parser.add_argument(
        "--trace", action="store_true", help="timing probes: where the time goes (1 shard)"
    )
    parser.add_argument(
        "--trace-memory", action="store_true", help="and tracemalloc: where the heap goes"
    )
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    env = cluster_env()
    args.results.mkdir(parents=True, exist_ok=True)
    spread = (args.replicas, args.replicas) if args.replicas else (1, 3)
    traced = args.trace or args.trace_memory
    trace = args.results / f"scale-trace-{args.releases}.jsonl" if traced else None
    if trace is not None:
        trace.unlink(missing_ok=True)
    result = run(
        env,
        api_client(env),
        args.results,
        count=args.releases,
        shards=args.shards,
        namespaces=args.namespaces,
        replicas=spread,
        trace=trace,
        heap=args.trace_memory,
    )
    if args.trace_memory and trace is not None:
        from bench.memory import heap_profile

        result["heap"] = heap_profile(trace)
    kind = "trace" if trace is not None else "bluegreen"
    name = f"compare-{kind}-{args.releases}-r{args.replicas}-s{args.shards}.json"
    (args.results / name).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("requests", "rows")}, indent=1))
    return 0


def _writers(audit: Path, since: datetime, until: datetime) -> dict[str, Any]:
    """Which operator shards wrote in each namespace: exactly one each, or a violation."""
    writers: dict[str, set[str]] = defaultdict(set)
    for event in events_between(audit, ("bluegreen-operator/",), since, until):
        namespace = (event.get("objectRef") or {}).get("namespace", "")
        if event.get("verb") in WRITE_VERBS and str(namespace).startswith("bench-scale-"):
            writers[str(namespace)].add(str(event.get("userAgent", "")))
    return {
        "namespaces": len(writers),
        "written_by_more_than_one": sorted(ns for ns, who in writers.items() if len(who) > 1),
        "shards_seen": sorted({w for who in writers.values() for w in who}),
    }


def _wait_gone(k: Kubectl, spaces: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = sum(len(k.json("get", "bgr", "-n", space).get("items") or []) for space in spaces)
        if not left:
            return
        time.sleep(2)


def _tear_down(
    k: Kubectl,
    spaces: list[str],
    election: str,
    operators: list[OperatorProcess],
    nodes: CompareNodes,
) -> None:
    """Releases first, while the operators still run their finalizers; then the
    namespaces, waited for: their pods go while their KWOK nodes still answer for
    them (deleted with the nodes first, they would wait for the pod GC, and a run
    started meanwhile would share the cluster with thousands of terminating objects)."""
    for space in spaces:
        k.run("delete", "bgr", "--all", "-n", space, "--wait=false", check=False)
    _wait_gone(k, spaces)
    for op in operators:
        op.stop()
    for space in [*spaces, election]:
        k.run("delete", "namespace", space, "--wait=false", check=False)
    _wait_namespaces_gone(k, [*spaces, election])
    nodes.delete()


def _wait_namespaces_gone(k: Kubectl, spaces: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = {
            item["metadata"]["name"] for item in k.json("get", "namespaces").get("items") or []
        }
        if not names & set(spaces):
            return
        time.sleep(2)


if __name__ == "__main__":
    raise SystemExit(main())
