"""The operator's memory while many releases run at once.

``count`` releases (one namespace, few replicas, no checks, no hold) are
created and become Ready; then all of them change to v2 at once. The RSS of
the operator, the API server and etcd is sampled every 100 ms from /proc
throughout; the operator's VmHWM (the kernel's own peak RSS) backs the
sampled peak.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client
from tests.integration.harness import Kubectl

from bench.cluster import GROUP, PLURAL, VERSION, Recorder, Sampler, cluster_pids, cpu_seconds
from bench.cluster import rss_kib as read_rss
from bench.latency import release_body
from bench.operator_process import start_operator, stop_operator

TARGET_PEAK_MIB = 150.0
SETTLE_SECONDS = 10.0
PATCH_THREADS = 10


def _mib(kib: float) -> float:
    return round(kib / 1024, 1)


def run(
    env: dict[str, str],
    api: client.ApiClient,
    out: Path,
    *,
    count: int,
    replicas: int,
    hold: int = 0,
    diagnose: bool = False,
) -> dict[str, Any]:
    """Memory figures; ``diagnose`` runs the traced operator with tracemalloc instead.

    tracemalloc costs memory of its own, so a diagnose run's RSS is no headline
    figure: it tells where the Python heap goes (bench/results/memory-diagnose.json).
    """
    k = Kubectl(env)
    namespace = f"bench-mem-{uuid.uuid4().hex[:6]}"
    k.run("create", "namespace", namespace)
    recorder = Recorder(api, namespace)
    recorder.start()
    label = "memory-diagnose" if diagnose else "memory"
    trace = out / f"{label}-trace.jsonl"
    trace.unlink(missing_ok=True)
    operator = start_operator(
        env,
        namespace,
        out / f"operator-{label}.log",
        trace if diagnose else None,
        {"BENCH_TRACEMALLOC": "5"} if diagnose else None,
    )
    pids = {"operator": operator.pid, **cluster_pids(env)}
    sampler = Sampler(pids)
    sampler.start()
    custom = client.CustomObjectsApi(api)
    names = [f"mem-{i:03d}" for i in range(count)]
    phases: dict[str, tuple[float, float]] = {}
    cpu: dict[str, float | None] = {"start": cpu_seconds(operator.pid)}
    ready_at: dict[str, float] = {}
    try:
        time.sleep(SETTLE_SECONDS / 2)
        phases["idle"] = (sampler.samples[0][0], time.monotonic())

        start = time.monotonic()
        _create_all(custom, namespace, names, replicas, hold)
        created = time.monotonic()
        _wait_all(recorder, names, None, timeout=600)
        phases["create"] = (
            start,
            max(_ready_times(recorder, dict.fromkeys(names, 1), start).values()),
        )
        cpu["created"] = cpu_seconds(operator.pid)

        time.sleep(SETTLE_SECONDS)
        phases["steady_v1"] = (phases["create"][1] + 2, time.monotonic())

        start = time.monotonic()
        generations = _release_all(custom, namespace, names, replicas, "v2")
        patched_all = time.monotonic()
        _wait_all(recorder, names, generations, timeout=900)
        ready_at = _ready_times(recorder, generations, start)
        phases["release_v2"] = (start, max(ready_at.values()))
        cpu["released"] = cpu_seconds(operator.pid)

        time.sleep(SETTLE_SECONDS)
        phases["steady_v2"] = (phases["release_v2"][1] + 2, time.monotonic())
        hwm = read_rss(operator.pid)
    finally:
        sampler.stop()
        stop_operator(operator, k, namespace)
        recorder.stop()

    result = _result(sampler, phases, ready_at, start, cpu, hwm)
    result.update(
        namespace=namespace,
        diagnose=diagnose,
        releases=count,
        replicas=replicas,
        hold_seconds=hold,
        create_requests_s=round(created - phases["create"][0], 2),
        patch_requests_s=round(patched_all - phases["release_v2"][0], 2),
    )
    if diagnose:
        result["heap"] = heap_profile(trace)
    return result


def _result(
    sampler: Sampler,
    phases: dict[str, tuple[float, float]],
    ready_at: dict[str, float],
    start: float,
    cpu: dict[str, float | None],
    hwm: tuple[int, int] | None,
) -> dict[str, Any]:
    per_phase: dict[str, Any] = {}
    for phase, (begin, end) in phases.items():
        per_phase[phase] = {
            "seconds": round(end - begin, 2),
            **{
                who: _stats(sampler.between(who, begin, end))
                for who in ("operator", "kube-apiserver", "etcd")
            },
            "cpu_s": {who: sampler.cpu_between(who, begin, end) for who in sampler.pids},
        }
    all_operator = sampler.between("operator", 0, float("inf"))
    durations = sorted(t - start for t in ready_at.values())
    return {
        "sample_interval_s": sampler.interval,
        "samples": len(sampler.samples),
        "all_ready_v1_s": round(phases["create"][1] - phases["create"][0], 2),
        "all_ready_v2_s": round(phases["release_v2"][1] - phases["release_v2"][0], 2),
        "ready_v2_first_s": round(durations[0], 2) if durations else None,
        "ready_v2_median_s": round(durations[len(durations) // 2], 2) if durations else None,
        "operator_peak_mib": _mib(max(all_operator)) if all_operator else None,
        "operator_vmhwm_mib": _mib(hwm[1]) if hwm else None,
        "operator_cpu_s": {
            "create": _delta(cpu, "start", "created"),
            "release_v2": _delta(cpu, "created", "released"),
        },
        "phases": per_phase,
        "operator_sockets_max": max((n for _, n in sampler.sockets), default=None),
        "operator_sockets_idle": sampler.sockets[0][1] if sampler.sockets else None,
        "target_peak_mib": TARGET_PEAK_MIB,
        "rss_series": [
            {"t": round(t - sampler.samples[0][0], 2), **{k: _mib(v) for k, v in row.items()}}
            for t, row in sampler.samples[::5]
        ],
    }


def heap_profile(trace: Path) -> dict[str, Any]:
    """The tracemalloc sample with the largest traced heap, and the task counts over time."""
    samples = [
        json.loads(line)
        for line in trace.read_text().splitlines()
        if line.startswith('{"kind":"memory"')
    ]
    if not samples:
        return {}
    top = max(samples, key=lambda s: s["traced_kib"])
    return {
        "peak_sample": top,
        "first_sample": samples[0],
        "max_tasks": max(s["tasks"] for s in samples),
        "series": [
            [round(s["t"] - samples[0]["t"], 1), s["traced_kib"], s["tasks"]] for s in samples
        ],
    }


def _create_all(
    custom: client.CustomObjectsApi, namespace: str, names: list[str], replicas: int, hold: int
) -> None:
    def create(name: str) -> None:
        body = release_body(name, "v1", namespace, replicas)
        body["spec"]["hold"]["seconds"] = hold
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    with ThreadPoolExecutor(max_workers=PATCH_THREADS) as pool:
        list(pool.map(create, names))


def _release_all(
    custom: client.CustomObjectsApi, namespace: str, names: list[str], replicas: int, version: str
) -> dict[str, int]:
    """Change every release's template to ``version`` at once (as a GitOps sync of many
    apps would), from a few client threads; the new generation of each."""

    def patch(name: str) -> tuple[str, int]:
        template = release_body(name, version, namespace, replicas)["spec"]["template"]
        patched = custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": {"template": template}}
        )
        return name, int(patched["metadata"]["generation"])  # type: ignore[index]

    with ThreadPoolExecutor(max_workers=PATCH_THREADS) as pool:
        return dict(pool.map(patch, names))


def _ready_times(recorder: Recorder, generations: dict[str, int], after: float) -> dict[str, float]:
    """When each release's first Ready=True event of its new generation arrived."""
    from bench.cluster import release_ready

    ready: dict[str, float] = {}
    for seen in recorder.of("release"):
        wanted = generations.get(seen.name)
        if (
            wanted is not None
            and seen.name not in ready
            and seen.mono >= after
            and release_ready(seen.obj, wanted)
        ):
            ready[seen.name] = seen.mono
    return ready


def _wait_all(
    recorder: Recorder, names: list[str], generations: dict[str, int] | None, timeout: float
) -> dict[str, float]:
    """Wait until every release is Ready (for the given generations); monotonic time of each."""
    from bench.cluster import release_ready

    ready: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(ready) < len(names):
        for name in names:
            if name in ready:
                continue
            obj = recorder.current("release", name)
            wanted = generations[name] if generations else None
            if obj is not None and release_ready(obj, wanted):
                ready[name] = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(ready)}/{len(names)} releases Ready after {timeout}s")
        time.sleep(0.05)
    return ready


def _stats(kib: list[int]) -> dict[str, float | None]:
    if not kib:
        return {"peak_mib": None, "median_mib": None}
    ordered = sorted(kib)
    return {"peak_mib": _mib(ordered[-1]), "median_mib": _mib(ordered[len(ordered) // 2])}


def _delta(cpu: dict[str, float | None], a: str, b: str) -> float | None:
    x, y = cpu.get(a), cpu.get(b)
    return round(y - x, 2) if x is not None and y is not None else None
