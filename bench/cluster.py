"""What the benchmarks observe: watch streams, process memory, the machine.

Every timestamp comes from watch events received in this process
(``time.monotonic()`` at arrival), so two timestamps compared with each other
went through the same API server and the same kind of stream.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from tests.integration.harness import REPO

from bluegreen.api.v1alpha1 import GROUP, PLURAL, VERSION

PAGE_SIZE = 4096


def cluster_env() -> dict[str, str]:
    """os.environ plus the toolchain variables and KUBECONFIG of the benchmark cluster."""
    out = subprocess.run(
        ["bash", "-c", f'eval "$({REPO / "hack" / "toolchain-env.sh"})" && env -0'],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    env = dict(os.environ)
    env.update(item.partition("=")[::2] for item in out.split("\0") if item)
    state = Path(env.get("BLUEGREEN_CLUSTER_DIR", str(REPO / ".cluster")))
    env["KUBECONFIG"] = str(state / "kubeconfig")
    env["BLUEGREEN_CLUSTER_DIR"] = str(state)
    return env


def api_client(env: dict[str, str]) -> client.ApiClient:
    made: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=env["KUBECONFIG"]
    )
    return made


@dataclass(frozen=True)
class Seen:
    """One watch event, reduced to what the analyses read."""

    kind: str
    """deployment, service or release"""
    type: str
    name: str
    mono: float
    wall: float
    obj: dict[str, Any]


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def deployment_available(obj: dict[str, Any]) -> bool:
    """Available as the operator defines it: every replica updated, ready, available; current."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    return (
        wanted > 0
        and not meta.get("deletionTimestamp")
        and int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 1)
        and int(status.get("updatedReplicas") or 0) == wanted
        and int(status.get("readyReplicas") or 0) == wanted
        and int(status.get("availableReplicas") or 0) == wanted
        and int(status.get("replicas") or 0) == wanted
    )


def release_ready(obj: dict[str, Any], generation: int | None = None) -> bool:
    """Ready=True, written for the release's current generation (or the one given)."""
    meta = obj.get("metadata") or {}
    wanted = generation if generation is not None else int(meta.get("generation") or 0)
    if int(meta.get("generation") or 0) != wanted:
        return False
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(
                cond.get("status") == "True" and int(cond.get("observedGeneration") or 0) == wanted
            )
    return False


class Recorder:
    """Watches deployments, services and releases of one namespace in background threads."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.events: list[Seen] = []
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._watches: list[watch.Watch] = []
        self._stopping = False
        self._started = {"deployment": False, "service": False, "release": False}
        # Each re-list after the first, by kind, with when (monotonic): what changed
        # while the watch was down is seen late or not at all, so a figure taken
        # across a re-list is suspect.
        self.relists: list[tuple[str, float]] = []

    def start(self) -> None:
        apps, core = client.AppsV1Api(self.api), client.CoreV1Api(self.api)
        custom = client.CustomObjectsApi(self.api)
        sources: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
            "deployment": (apps.list_namespaced_deployment, (self.namespace,)),
            "service": (core.list_namespaced_service, (self.namespace,)),
            "release": (
                custom.list_namespaced_custom_object,
                (GROUP, VERSION, self.namespace, PLURAL),
            ),
        }
        for kind, (func, args) in sources.items():
            threading.Thread(
                target=self._run, args=(kind, func, args), name=f"watch-{kind}", daemon=True
            ).start()
        deadline = time.monotonic() + 30
        while not all(self._started.values()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"watches did not start: {self._started}")
            time.sleep(0.05)

    def stop(self) -> None:
        self._stopping = True
        for w in self._watches:
            w.stop()  # type: ignore[no-untyped-call]

    def _run(self, kind: str, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        version: str | None = None
        while not self._stopping:
            w = watch.Watch()  # type: ignore[no-untyped-call]
            self._watches.append(w)
            if version is None:
                if self._started[kind]:
                    self.relists.append((kind, time.monotonic()))
                version = self._list(kind, func, args)
            self._started[kind] = True
            try:
                for event in w.stream(  # type: ignore[no-untyped-call]
                    func,
                    *args,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=600,
                    deserialize=False,
                ):
                    mono, wall = time.monotonic(), time.time()
                    obj = event["object"]
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event["type"] in ("BOOKMARK", "ERROR"):
                        if event["type"] == "ERROR":
                            version = None  # expired: list again
                            break
                        continue
                    self._record(
                        Seen(kind, event["type"], obj["metadata"]["name"], mono, wall, obj)
                    )
            except client.ApiException as err:
                if err.status == 410:
                    version = None
                else:
                    time.sleep(0.5)
            except Exception:  # a dropped stream is retried from its version
                if not self._stopping:
                    time.sleep(0.2)

    def _list(self, kind: str, func: Callable[..., Any], args: tuple[Any, ...]) -> str:
        body = json.loads(func(*args, _preload_content=False, limit=PAGE_SIZE).data)
        with self._lock:
            for obj in body.get("items") or []:
                self.latest[(kind, obj["metadata"]["name"])] = obj
        return str(body["metadata"]["resourceVersion"])

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.events.append(seen)
            if seen.type == "DELETED":
                self.latest.pop((seen.kind, seen.name), None)
            else:
                self.latest[(seen.kind, seen.name)] = seen.obj

    def snapshot(self) -> list[Seen]:
        with self._lock:
            return list(self.events)

    def current(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.latest.get((kind, name))

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float) -> float:
        """Wait, on the in-memory state only, until ``predicate``; returns time.monotonic()."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.02)
        return time.monotonic()

    def of(self, kind: str, name: str | None = None) -> Iterator[Seen]:
        for seen in self.snapshot():
            if seen.kind == kind and (name is None or seen.name == name):
                yield seen


# -- memory ------------------------------------------------------------------


def rss_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of a process in KiB, from /proc; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def open_sockets(pid: int) -> int | None:
    """How many sockets a process holds open (its API connections, mostly)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    count = 0
    for fd in fds:
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    after_name = stat.rsplit(")", 1)[1].split()
    ticks = int(after_name[11]) + int(after_name[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Sampler:
    """Samples the RSS of named processes every ``interval`` seconds in a thread."""

    pids: dict[str, int]
    interval: float = 0.1
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    cpu: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    """CPU seconds (user + system) of each process, once a second."""
    sockets: list[tuple[float, int]] = field(default_factory=list)
    """Open sockets of the first process (the operator), once a second."""
    marks: list[tuple[float, str]] = field(default_factory=list)
    _cpu_before: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the earlier processes of a name that was restarted (``replace``)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def mark(self, label: str) -> None:
        self.marks.append((time.monotonic(), label))

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        next_at = time.monotonic()
        tick = 0
        while not self._stop.is_set():
            row = {}
            for name, pid in dict(self.pids).items():
                got = rss_kib(pid)
                if got is not None:
                    row[name] = got[0]
            self.samples.append((time.monotonic(), row))
            if tick % round(1 / self.interval) == 0:
                first = next(iter(self.pids.values()))
                self.sockets.append((time.monotonic(), open_sockets(first) or 0))
                used = {name: cpu_seconds(pid) for name, pid in dict(self.pids).items()}
                before = self._cpu_before
                totals = {k: v + before.get(k, 0.0) for k, v in used.items() if v is not None}
                self.cpu.append((time.monotonic(), totals))
            tick += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def replace(self, name: str, pid: int) -> None:
        """``name`` runs as a new process now (restarted): its CPU seconds carry on from
        the last sample of the old one (what the old one used after it is lost, under a
        second's worth)."""
        last = [row[name] for _, row in self.cpu if name in row]
        self._cpu_before[name] = last[-1] if last else self._cpu_before.get(name, 0.0)
        self.pids[name] = pid

    def peak_kib(self, name: str) -> int | None:
        """The highest RSS sampled for ``name``, across its restarts."""
        seen = [row[name] for _, row in self.samples if name in row]
        return max(seen) if seen else None

    def cpu_between(self, name: str, start: float, end: float) -> float | None:
        """CPU seconds ``name`` used between two instants (one-second resolution)."""
        inside = [row[name] for t, row in self.cpu if start - 0.5 <= t <= end + 1.0 and name in row]
        return round(inside[-1] - inside[0], 2) if len(inside) > 1 else None

    def between(self, name: str, start: float, end: float) -> list[int]:
        return [row[name] for t, row in self.samples if start <= t <= end and name in row]


def cluster_pids(env: dict[str, str]) -> dict[str, int]:
    """Pids of the local cluster's components, from hack/cluster-up.sh's pid files."""
    folder = Path(env["BLUEGREEN_CLUSTER_DIR"]) / "pids"
    pids = {}
    for name in ("kube-apiserver", "etcd", "kube-controller-manager", "kwok"):
        path = folder / f"{name}.pid"
        if path.is_file():
            pids[name] = int(path.read_text().strip())
    return pids


# -- the machine -------------------------------------------------------------


def machine(env: dict[str, str]) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions(env),
        "load_average_at_start": list(os.getloadavg()),
    }


def versions(env: dict[str, str]) -> dict[str, str]:
    from importlib.metadata import version

    found = {}
    for line in (REPO / "hack" / "versions.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("KUBERNETES_VERSION", "ETCD_VERSION", "KWOK_VERSION"):
            found[key.removesuffix("_VERSION").lower()] = value
    for package in ("kopf", "kubernetes_asyncio", "aiohttp"):
        found[package] = version(package)
    found["bluegreen-operator"] = version("bluegreen-operator")
    return found
