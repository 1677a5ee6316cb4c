"""Argo Rollouts' side of the comparison: N blue/green Rollouts switched from v1 to v2 at once.

The Argo Rollouts controller (built by bench/compare/build-argo-rollouts.sh
from its Go module, v1.10.1) runs as a local process in namespaced mode
against the local cluster, with Argo's default client settings (QPS 40, burst
80; ``--qps``/``--burst`` change them), 10 rollout worker threads, and no
leader election (as the operator runs in bench/). Its CRDs are applied from
the module cache at run time, and deleted afterwards if this run installed
them (``--keep-crds`` keeps them).

Each Rollout has 1 replica (``--replicas``), an active and a preview Service,
``autoPromotionEnabled: true`` and ``scaleDownDelaySeconds: 0``
(``--scale-down-delay``), and runs the pod template of ``common.pod_template``
on the comparison's KWOK nodes. Once every Rollout is Healthy on v1, all N
templates change to v2 at once (10 client threads, as bench/memory.py), and
per Rollout:

- ``spec_to_switch`` (the headline): the Rollout's first watch event of the new
  generation -> the first event of its active Service whose selector names the
  new ``rollouts-pod-template-hash``;
- ``patch_to_switch``: the PATCH sent -> the same Service event;
- ``spec_to_candidate``: -> the new ReplicaSet's ADDED event;
- ``available_to_switch``: the new ReplicaSet's first event showing every
  replica ready and available -> the selector switch (the controller's own
  reaction, as the operator's "Available -> selector patched");
- for context, ``candidate_to_scaled_up`` (ADDED with 0 replicas -> Argo's
  scale-up) and ``candidate_to_available`` (ADDED -> available: Argo's scale-up,
  then the cluster's work: pods created, scheduled, made Ready by KWOK).

The v2 phase runs from the first PATCH until every Rollout is Healthy on v2,
its active Service on v2 and its v1 ReplicaSet scaled to 0. Over it: the
controller's peak RSS (VmHWM, reset at the phase's start), its CPU seconds
(utime + stime), and the API requests it made, from the API server's audit log
when the cluster writes one (``audit.py``), else from the controller's own
``controller_clientset_k8s_request_total`` counter. Then the controller's CPU
seconds over 10 s of quiet (``after_v2``).

``scaleDownDelaySeconds: 0`` does not mean "at once" in Argo Rollouts v1.10.1:
``addScaleDownDelay`` sets no deadline for 0, so the previous ReplicaSet keeps
its replicas (argoproj/argo-rollouts#1992, open), and ``scaleDownDelayHelper``
re-queues the Rollout with no delay on every pass, so the controller spins on
each such Rollout for as long as it exists (``after_v2`` shows it). With 0 the
v2 phase therefore ends when every Rollout is Healthy and switched, and the
ReplicaSets left running are counted; ``--scale-down-delay 1`` is the nearest
setting that scales the previous version down.

The controller rewrites ``spec.template`` of a Rollout after each change (its
own normalisation), so a change bumps ``metadata.generation`` twice; "the new
generation" is any generation from the one the PATCH returned.

``python -m bench.compare.argo_rollouts --releases 100`` writes
bench/results/compare-argo-<n>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.compare import audit
from bench.compare.common import (
    RESULTS,
    CompareNodes,
    RssSampler,
    Seen,
    Watcher,
    api_client,
    cluster_env,
    cluster_pids,
    cpu_seconds,
    free_port,
    kubectl,
    log,
    machine,
    mib,
    pod_template,
    reset_peak_rss,
    rss_kib,
)
from bench.stats import summary

ARGO_VERSION = "v1.10.1"
MODULE = "github.com/argoproj/argo-rollouts"
_CACHE_ROOT = os.environ.get("BLUEGREEN_CACHE") or str(
    Path.home() / ".cache" / "bluegreen-operator"
)
CACHE = Path(_CACHE_ROOT) / "argo-rollouts"
"""Where bench/compare/build-argo-rollouts.sh builds (the same variable, the same default)."""
BINARY = CACHE / "rollouts-controller"
BUILD_SCRIPT = "bench/compare/build-argo-rollouts.sh"

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "rollouts"
HASH_LABEL = "rollouts-pod-template-hash"
USER_AGENT_PREFIX = "rollouts-controller/"
"""client-go's default user agent, ``<argv[0] base name>/<client-go version> (<os>/<arch>)
kubernetes/<commit>``: Argo Rollouts sets none of its own. Built as upstream's Makefile
builds (client-go's version not stamped) it reads, in the audit log,
``rollouts-controller/v0.0.0 (linux/amd64) kubernetes/$Format``."""
REQUEST_METRIC = "controller_clientset_k8s_request_total"

CLIENT_THREADS = 10
SETTLE_SECONDS = 5.0
SCALE_DOWN_GRACE_SECONDS = 120.0
QUIET_SECONDS = 10.0


# -- the controller --------------------------------------------------------------


def crd_files() -> list[Path]:
    """Argo Rollouts' CRDs, from its module in the Go module cache (downloaded if missing)."""
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{ARGO_VERSION}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "GOTOOLCHAIN": "local"},
        cwd="/",  # outside any module: the download goes to the module cache only
    )
    folder = Path(json.loads(done.stdout)["Dir"]) / "manifests" / "crds"
    files = sorted(folder.glob("*-crd.yaml"))
    if not files:
        raise FileNotFoundError(f"no *-crd.yaml in {folder}")
    return files


def install_crds(env: dict[str, str]) -> list[str]:
    """Apply the CRDs (server-side: the Rollout CRD is too large for client-side apply);
    the names of those that were not installed before."""
    files = crd_files()
    names = []
    for f in files:
        names.append(kubectl(env, "create", "--dry-run=client", "-f", str(f), "-o", "name").strip())
    present = set(kubectl(env, "get", "crd", "-o", "name").split())
    new = [n.removeprefix("customresourcedefinition.apiextensions.k8s.io/") for n in names]
    new = [n for n in new if f"customresourcedefinition.apiextensions.k8s.io/{n}" not in present]
    for f in files:
        kubectl(env, "apply", "--server-side", "--force-conflicts", "-f", str(f))
    for n in names:
        kubectl(env, "wait", "--for=condition=Established", "--timeout=60s", n)
    return new


@dataclass
class Controller:
    """``rollouts-controller`` as a local process, namespaced to one namespace."""

    env: dict[str, str]
    namespace: str
    log_path: Path
    extra: tuple[str, ...] = ()
    """more flags, e.g. ``--qps``/``--burst`` (Argo's defaults: 40 and 80)"""
    process: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0
    healthz_port: int = 0

    def flags(self) -> list[str]:
        return [
            "--kubeconfig",
            self.env["KUBECONFIG"],
            "--namespaced",
            "--namespace",
            self.namespace,
            "--leader-elect=false",
            "--metricsPort",
            str(self.metrics_port),
            "--healthzPort",
            str(self.healthz_port),
            *self.extra,
        ]

    def start(self, timeout: float = 90) -> None:
        if not BINARY.is_file():
            raise FileNotFoundError(f"{BINARY} missing: run {BUILD_SCRIPT} first")
        self.metrics_port, self.healthz_port = free_port(), free_port()
        # POD_NAMESPACE: where Argo looks for its notification ConfigMap (else
        # "argo-rollouts"); keeps every informer inside the benchmark's namespace.
        env = {**self.env, "POD_NAMESPACE": self.namespace}
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BINARY), *self.flags()], env=env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"rollouts-controller exited ({self.process.returncode}); log: {self.log_path}"
                )
            try:
                if "argo_rollouts_controller_info" in self.metrics():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"rollouts-controller metrics not up after {timeout}s")
            time.sleep(0.3)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text: str = resp.read().decode()
            return text

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_requests(text: str) -> dict[audit.RequestKey, int]:
    """The controller's own request counter, as (verb, resource).

    Its labels come from the URL path (github.com/argoproj/pkg/kubeclientmetrics):
    for a subresource (``.../namespaces/<ns>/rollouts/<name>/status``) ``name``
    holds the subresource, ``kind`` the object's name and ``namespace`` the
    resource, so those count as ``rollouts/status``. A create whose body it
    cannot parse (client-go sends ReplicaSets as protobuf) has no kind: ``?``.
    The controller runs namespaced, so every request is for its namespace or a
    cluster-scoped list.
    """
    counts: dict[audit.RequestKey, int] = {}
    for line in text.splitlines():
        if not line.startswith(REQUEST_METRIC + "{"):
            continue
        labels_text, _, value = line[len(REQUEST_METRIC) + 1 :].rpartition("}")
        labels = dict(_LABEL.findall(labels_text))
        kind, name = labels.get("kind", ""), labels.get("name", "")
        if name in ("status", "scale"):
            resource = f"{labels.get('namespace', '?')}/{name}"
        else:
            resource = kind or "?"
        key = (labels.get("verb", "").lower(), resource)
        counts[key] = counts.get(key, 0) + round(float(value))
    return counts


def _diff(
    after: dict[audit.RequestKey, int], before: dict[audit.RequestKey, int]
) -> dict[audit.RequestKey, int]:
    out = {k: v - before.get(k, 0) for k, v in after.items()}
    return dict(sorted((k, v) for k, v in out.items() if v > 0))


# -- the workload --------------------------------------------------------------


def labels_of(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def rollout_body(
    name: str, version: str, replicas: int, scale_down_delay: int = 0
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels_of(name)},
            "template": pod_template(version, labels_of(name)),
            "strategy": {
                "blueGreen": {
                    "activeService": name,
                    "previewService": f"{name}-preview",
                    "autoPromotionEnabled": True,
                    "scaleDownDelaySeconds": scale_down_delay,
                }
            },
        },
    }


def service_body(name: str, selects: str) -> dict[str, Any]:
    """A Service of ``selects``'s pods; Argo adds the pod-template-hash to its selector."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "type": "ClusterIP",
            "selector": labels_of(selects),
            "ports": [{"port": 80, "targetPort": 5000, "protocol": "TCP"}],
        },
    }


def _selector_hash(service: dict[str, Any] | None) -> str | None:
    if service is None:
        return None
    return ((service.get("spec") or {}).get("selector") or {}).get(HASH_LABEL)


def _healthy_hash(rollout: dict[str, Any] | None, since_generation: int = 0) -> str | None:
    """The pod-template-hash a Rollout is Healthy on, once its current generation (at
    least ``since_generation``) is observed."""
    if rollout is None:
        return None
    meta, status = rollout.get("metadata") or {}, rollout.get("status") or {}
    generation = int(meta.get("generation") or 0)
    current = status.get("currentPodHash")
    if (
        generation >= since_generation
        and str(status.get("observedGeneration")) == str(generation)
        and status.get("phase") == "Healthy"
        and current
        and status.get("stableRS") == current
    ):
        return str(current)
    return None


def _wait(
    what: str, done: set[str], names: list[str], check: Callable[[str], bool], timeout: float
) -> None:
    """Poll ``check(name)`` on the watched state until it holds for every name; bounded."""
    deadline = time.monotonic() + timeout
    while len(done) < len(names):
        for name in names:
            if name not in done and check(name):
                done.add(name)
        if len(done) == len(names):
            return
        if time.monotonic() > deadline:
            missing = sorted(set(names) - done)[:5]
            raise TimeoutError(f"{what}: {len(done)}/{len(names)} after {timeout}s; e.g. {missing}")
        time.sleep(0.05)


def _pool_map(func: Any, items: list[str]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        return list(pool.map(func, items))


# -- the run ---------------------------------------------------------------------


@dataclass
class Bench:
    """One run: the cluster, the controller, the watches, the Rollouts' names."""

    env: dict[str, str]
    namespace: str
    names: list[str]
    replicas: int
    scale_down_delay: int
    controller: Controller
    watcher: Watcher
    core: client.CoreV1Api
    custom: client.CustomObjectsApi
    audit_log: Path
    sampler: RssSampler | None = None

    def rollout(self, name: str) -> dict[str, Any] | None:
        return self.watcher.current("rollout", name)

    def active_hash(self, name: str) -> str | None:
        return _selector_hash(self.watcher.current("service", name))


def run(
    releases: int,
    replicas: int,
    out: Path,
    scale_down_delay: int = 0,
    controller_flags: tuple[str, ...] = (),
    label: str = "",
    keep_crds: bool = False,
) -> dict[str, Any]:
    """One run; ``label`` names its files: compare-argo-<releases><label>.json."""
    env = cluster_env()
    kubectl(env, "get", "--raw=/readyz", timeout=10)
    log(f"Argo Rollouts {ARGO_VERSION}: CRDs from the module cache")
    installed = install_crds(env)
    nodes = CompareNodes(env, pods=2 * releases * replicas)
    nodes.ensure()
    namespace = f"bench-argo-{uuid.uuid4().hex[:6]}"
    kubectl(env, "create", "namespace", namespace)
    api = api_client(env)
    core, apps, custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
    bench = Bench(
        env=env,
        namespace=namespace,
        names=[f"ro-{i:04d}" for i in range(releases)],
        replicas=replicas,
        scale_down_delay=scale_down_delay,
        controller=Controller(
            env, namespace, out / f"argo-rollouts-{releases}{label}.log", controller_flags
        ),
        watcher=Watcher(
            {
                "rollout": (
                    custom.list_namespaced_custom_object,
                    (GROUP, VERSION, namespace, PLURAL),
                ),
                "service": (core.list_namespaced_service, (namespace,)),
                "replicaset": (apps.list_namespaced_replica_set, (namespace,)),
            }
        ),
        core=core,
        custom=custom,
        audit_log=Path(env["BLUEGREEN_CLUSTER_DIR"]) / "audit.log",
    )
    bench.controller.log_path.unlink(missing_ok=True)
    result: dict[str, Any] = {
        "side": "argo-rollouts",
        "argo_rollouts_version": ARGO_VERSION,
        "releases": releases,
        "replicas": replicas,
        "scale_down_delay_seconds": scale_down_delay,
        "namespace": namespace,
        "machine": machine(),
        "started": _now(),
    }
    try:
        bench.watcher.start()
        bench.controller.start()
        result["controller"] = {
            "binary": str(BINARY),
            "flags": bench.controller.flags(),
            "env": {"POD_NAMESPACE": namespace},
            "user_agent_prefix": USER_AGENT_PREFIX,
        }
        bench.sampler = RssSampler(bench.controller.pid)
        bench.sampler.start()
        time.sleep(SETTLE_SECONDS)
        idle = rss_kib(bench.controller.pid)
        result["controller_idle_rss_mib"] = mib(idle[0] if idle else None)

        result["v1"] = _create_phase(bench)
        log(f"v1: {releases} Rollouts Healthy in {result['v1']['seconds']} s")
        time.sleep(SETTLE_SECONDS)
        result["v2"] = v2 = _release_phase(bench)
        log(
            f"v2: spec -> active switch p50 {v2['latency_ms']['spec_to_switch'].get('p50')} ms, "
            f"p99 {v2['latency_ms']['spec_to_switch'].get('p99')} ms; "
            f"peak RSS {v2['controller_vmhwm_mib']} MiB; CPU {v2['controller_cpu_s']} s; "
            f"requests ({v2['requests']['source']}) {v2['requests'].get('per_release')}/release"
        )
        cpu0 = cpu_seconds(bench.controller.pid)
        time.sleep(QUIET_SECONDS)
        result["after_v2"] = {
            "seconds": QUIET_SECONDS,
            "controller_cpu_s": _delta(cpu0, cpu_seconds(bench.controller.pid)),
            "v1_replicasets_still_scaled_up": sum(
                not _scaled_down(bench, n, v2["v1_hash"][n]) for n in bench.names
            ),
        }
        log(f"after v2: {json.dumps(result['after_v2'])}")
    finally:
        if bench.sampler is not None:
            bench.sampler.stop()
        bench.watcher.stop()
        bench.controller.stop()
        result["controller_log_levels"] = _log_levels(bench.controller.log_path)
        _tidy(env, namespace, nodes, [] if keep_crds else installed)
    result["finished"] = _now()
    return result


def _create_phase(bench: Bench) -> dict[str, Any]:
    pid = bench.controller.pid
    cpu0, wall0, start = cpu_seconds(pid), datetime.now(UTC), time.monotonic()

    def create(name: str) -> None:
        for svc in (name, f"{name}-preview"):
            bench.core.create_namespaced_service(
                bench.namespace,
                service_body(svc, name),  # type: ignore[arg-type]
            )
        bench.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            bench.namespace,
            PLURAL,
            rollout_body(name, "v1", bench.replicas, bench.scale_down_delay),
        )

    _pool_map(create, bench.names)

    def healthy(name: str) -> bool:
        h = _healthy_hash(bench.rollout(name))
        return h is not None and bench.active_hash(name) == h

    timeout = 300 + 1.5 * len(bench.names)
    _wait("Rollouts Healthy on v1", set(), bench.names, healthy, timeout)
    end, wall1, cpu1 = time.monotonic(), datetime.now(UTC), cpu_seconds(pid)
    return {
        "seconds": round(end - start, 2),
        "controller_cpu_s": _delta(cpu0, cpu1),
        "requests": _requests(bench, wall0, wall1, None),
    }


def _scaled_down(bench: Bench, name: str, old_hash: str | None) -> bool:
    rs = bench.watcher.current("replicaset", f"{name}-{old_hash}")
    return rs is None or int((rs.get("spec") or {}).get("replicas") or 0) == 0


def _release_phase(bench: Bench) -> dict[str, Any]:
    names, controller = bench.names, bench.controller
    v1_hash = {n: bench.active_hash(n) for n in names}
    pids = {"controller": controller.pid, **cluster_pids(bench.env)}
    metrics0 = metric_requests(controller.metrics())
    hwm_reset = reset_peak_rss(controller.pid)
    cpu0 = {who: cpu_seconds(pid) for who, pid in pids.items()}
    wall0, start = datetime.now(UTC), time.monotonic()
    sent: dict[str, float] = {}

    def patch(name: str) -> tuple[str, int]:
        body = {"spec": {"template": pod_template("v2", labels_of(name))}}
        sent[name] = time.monotonic()
        patched = bench.custom.patch_namespaced_custom_object(
            GROUP, VERSION, bench.namespace, PLURAL, name, body
        )
        return name, int(patched["metadata"]["generation"])  # type: ignore[index]

    generations = dict(_pool_map(patch, names))
    patched_all = time.monotonic()

    def switched(name: str) -> bool:
        h = _healthy_hash(bench.rollout(name), generations[name])
        return h is not None and h != v1_hash[name] and bench.active_hash(name) == h

    timeout = 300 + 1.5 * len(names)
    _wait("Rollouts Healthy and switched on v2", set(), names, switched, timeout)
    all_switched = time.monotonic()
    new_hash = {n: str(_healthy_hash(bench.rollout(n), generations[n])) for n in names}
    scaled: set[str] = set()
    if bench.scale_down_delay > 0:  # with 0, Argo never scales v1 down (see the docstring)
        try:
            _wait(
                "v1 ReplicaSets scaled to 0",
                scaled,
                names,
                lambda n: _scaled_down(bench, n, v1_hash[n]),
                bench.scale_down_delay + SCALE_DOWN_GRACE_SECONDS,
            )
        except TimeoutError as err:
            log(str(err))
    end, wall1 = time.monotonic(), datetime.now(UTC)
    cpu1 = {who: cpu_seconds(pid) for who, pid in pids.items()}
    got = rss_kib(controller.pid)
    metrics_text = controller.metrics()
    metrics1 = metric_requests(metrics_text)
    controller.log_path.with_suffix(".metrics.txt").write_text(metrics_text)

    cpu_used = _delta(cpu0["controller"], cpu1["controller"])
    return {
        "seconds": round(end - start, 2),
        "patch_requests_s": round(patched_all - start, 2),
        "all_switched_s": round(all_switched - start, 2),
        "v1_scaled_down": len(scaled),
        "latency_ms": _latencies(bench.watcher, names, generations, new_hash, sent, start),
        "controller_vmhwm_mib": mib(got[1] if got else None),
        "controller_vmhwm_reset_at_start": hwm_reset,
        "controller_sampled_peak_mib": mib(
            bench.sampler.peak_kib(start, end) if bench.sampler else None
        ),
        "controller_cpu_s": cpu_used,
        "controller_cpu_ms_per_release": (
            round(cpu_used * 1000 / len(names), 1) if cpu_used is not None else None
        ),
        "cluster_cpu_s": {w: _delta(cpu0[w], cpu1[w]) for w in pids if w != "controller"},
        "requests": _requests(bench, wall0, wall1, _diff(metrics1, metrics0)),
        "v1_hash": v1_hash,
        "v2_hash": new_hash,
    }


def _latencies(
    watcher: Watcher,
    names: list[str],
    generations: dict[str, int],
    new_hash: dict[str, str],
    sent: dict[str, float],
    after: float,
) -> dict[str, Any]:
    intervals: dict[str, list[float]] = {
        "spec_to_switch": [],
        "patch_to_switch": [],
        "spec_to_candidate": [],
        "available_to_switch": [],
        "candidate_to_scaled_up": [],
        "candidate_to_available": [],
    }
    for name in names:
        generation, wanted_hash = generations[name], new_hash[name]

        def new_generation(s: Seen, generation: int = generation) -> bool:
            return int(s.obj["metadata"].get("generation") or 0) >= generation

        def on_new_hash(s: Seen, wanted_hash: str = wanted_hash) -> bool:
            return _selector_hash(s.obj) == wanted_hash

        spec = _first(watcher.of("rollout", name, after), new_generation)
        switch = _first(watcher.of("service", name, after), on_new_hash)
        rs_name = f"{name}-{new_hash[name]}"
        created = _first(watcher.of("replicaset", rs_name, after), lambda s: s.type == "ADDED")
        available = _first(watcher.of("replicaset", rs_name, after), _rs_available)
        scaled_up = _first(watcher.of("replicaset", rs_name, after), _rs_scaled_up)
        if switch is not None:
            intervals["patch_to_switch"].append(switch.mono - sent[name])
            if spec is not None:
                intervals["spec_to_switch"].append(switch.mono - spec.mono)
            if available is not None:
                intervals["available_to_switch"].append(switch.mono - available.mono)
        if spec is not None and created is not None:
            intervals["spec_to_candidate"].append(created.mono - spec.mono)
        if created is not None and available is not None:
            intervals["candidate_to_available"].append(available.mono - created.mono)
        if created is not None and scaled_up is not None:
            intervals["candidate_to_scaled_up"].append(scaled_up.mono - created.mono)
    return {k: summary(v) for k, v in intervals.items()}


def _first(events: list[Seen], predicate: Callable[[Seen], bool]) -> Seen | None:
    return next((s for s in events if predicate(s)), None)


def _rs_scaled_up(seen: Seen) -> bool:
    """Argo creates a ReplicaSet with 0 replicas, then scales it up in a later pass."""
    return int((seen.obj.get("spec") or {}).get("replicas") or 0) > 0


def _rs_available(seen: Seen) -> bool:
    meta, spec, status = (seen.obj.get(k) or {} for k in ("metadata", "spec", "status"))
    wanted = int(spec.get("replicas") or 0)
    return (
        wanted > 0
        and int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 1)
        and int(status.get("readyReplicas") or 0) >= wanted
        and int(status.get("availableReplicas") or 0) >= wanted
    )


def _requests(
    bench: Bench,
    since: datetime,
    until: datetime,
    from_metrics: dict[audit.RequestKey, int] | None,
) -> dict[str, Any]:
    """The controller's API requests in a window: from the audit log if the cluster writes
    one, else from its own counter (``from_metrics``)."""
    audit_log, releases = bench.audit_log, len(bench.names)
    out: dict[str, Any] = {"window": [since.isoformat(), until.isoformat()]}
    if audit.readable(audit_log):
        # A request after the window, so the batch-written log has something to show
        # that it caught up.
        kubectl(bench.env, "get", "namespace", bench.namespace, "-o", "name")
        if not audit.wait_flushed(audit_log, until):
            out["warning"] = "the audit log had not caught up after 30 s"
        counts, agents = audit.scan(audit_log, USER_AGENT_PREFIX, since, until)
        out.update(source=f"audit log {audit_log}", user_agents=agents)
        if from_metrics is not None:
            out["controller_counter_total"] = sum(from_metrics.values())
            out["controller_counter_by_request"] = audit.by_request(from_metrics)
    elif from_metrics is not None:
        counts = from_metrics
        out["source"] = f"controller metric {REQUEST_METRIC} (no audit log at {audit_log})"
    else:
        out["source"] = f"none (no audit log at {audit_log})"
        return out
    total = sum(counts.values())
    out.update(
        total=total,
        per_release=round(total / releases, 2),
        by_request=audit.by_request(counts),
        per_release_by_request=audit.by_request(counts, releases),
    )
    return out


def _tidy(env: dict[str, str], namespace: str, nodes: CompareNodes, crds: list[str]) -> None:
    """Delete the namespace (and wait, bounded), then the nodes and CRDs this run created."""
    try:
        kubectl(env, "delete", "namespace", namespace, "--timeout=300s", timeout=320)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        log(f"namespace {namespace} not deleted in time: {err}")
    try:
        nodes.delete()
        if crds:
            kubectl(env, "delete", "crd", *crds, "--timeout=120s", timeout=140)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        log(f"tidying up: {err}")


def _log_levels(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            for level in ("error", "fatal", "warning"):
                if f"level={level}" in line:
                    counts[level] = counts.get(level, 0) + 1
    return counts


def _delta(a: float | None, b: float | None) -> float | None:
    return round(b - a, 2) if a is not None and b is not None else None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare.argo_rollouts")
    parser.add_argument("--releases", type=int, default=100, help="Rollouts switched at once")
    parser.add_argument("--replicas", type=int, default=1, help="replicas per Rollout")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--scale-down-delay",
        type=int,
        default=0,
        help="blueGreen.scaleDownDelaySeconds (0 leaves v1 running in Argo v1.10.1; see above)",
    )
    parser.add_argument("--qps", type=float, help="the controller's client QPS (Argo: 40)")
    parser.add_argument("--burst", type=int, help="the controller's client burst (Argo: 80)")
    parser.add_argument(
        "--keep-crds", action="store_true", help="leave Argo's CRDs installed afterwards"
    )
    args = parser.parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    flags: list[str] = []
    label = f"-delay{args.scale_down_delay}" if args.scale_down_delay else ""
    if args.qps is not None:
        flags += ["--qps", f"{args.qps:g}"]
        label += f"-qps{args.qps:g}"
    if args.burst is not None:
        flags += ["--burst", str(args.burst)]
        label += f"-burst{args.burst}"
    result = run(
        args.releases,
        args.replicas,
        args.results,
        scale_down_delay=args.scale_down_delay,
        controller_flags=tuple(flags),
        label=label,
        keep_crds=args.keep_crds,
    )
    path = args.results / f"compare-argo-{args.releases}{label}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {path}")
    brief = {k: result[k] for k in ("releases", "v1", "v2", "after_v2") if k in result}
    brief.get("v2", {}).pop("v1_hash", None)
    brief.get("v2", {}).pop("v2_hash", None)
    print(json.dumps(brief, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
