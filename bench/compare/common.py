"""What both sides of the comparison share: the cluster, the nodes, the pods, the figures.

- ``cluster_env``: the environment of the local cluster (toolchain kubectl, KUBECONFIG);
- ``CompareNodes``: KWOK nodes of this benchmark only (labelled and tainted, so
  no other workload lands on them and the compared pods land nowhere else);
- ``pod_template``: the pod template each release or rollout runs, v1 then v2;
- ``Watcher``: watch streams in threads, each event stamped with time.monotonic()
  at arrival;
- ``rss_kib``, ``cpu_seconds``, ``reset_peak_rss``, ``RssSampler``: a process's
  memory and CPU from /proc.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"

NODE_LABEL = "bench.bluegreen.dev/compare"
"""Label and taint key of the comparison's KWOK nodes."""
PODS_PER_NODE = 1100
PAGE_SIZE = 4096


def cluster_env() -> dict[str, str]:
    """os.environ plus the toolchain's PATH and the local cluster's KUBECONFIG."""
    out = subprocess.run(
        ["bash", "-c", f'eval "$({REPO / "hack" / "toolchain-env.sh"})" && env -0'],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    env = dict(os.environ)
    env.update(item.partition("=")[::2] for item in out.split("\0") if item)
    state = Path(env.get("BLUEGREEN_CLUSTER_DIR", str(REPO / ".cluster")))
    env["BLUEGREEN_CLUSTER_DIR"] = str(state)
    env["KUBECONFIG"] = str(state / "kubeconfig")
    return env


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        ["kubectl", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def api_client(env: dict[str, str]) -> client.ApiClient:
    made: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=env["KUBECONFIG"]
    )
    return made


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log(message: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- nodes and pods ------------------------------------------------------------


class CompareNodes:
    """KWOK nodes for ``pods`` pods, created if missing, deleted by ``delete()`` if created here.

    The cluster's own three KWOK nodes take 110 pods each, shared with whatever
    else runs; 1000 releases need 2000 pods during the switch. These nodes take
    ``PODS_PER_NODE`` each and carry a NoSchedule taint, so only pods of
    ``pod_template`` (which tolerate it and select the label) run there.
    """

    def __init__(self, env: dict[str, str], pods: int) -> None:
        self.env = env
        self.names = [
            f"bench-compare-kwok-{i}" for i in range(max(1, math.ceil(pods / PODS_PER_NODE)))
        ]
        self.created: list[str] = []

    def ensure(self, timeout: float = 60) -> None:
        existing = set(kubectl(self.env, "get", "nodes", "-l", NODE_LABEL, "-o", "name").split())
        docs = []
        for name in self.names:
            if f"node/{name}" in existing:
                continue
            self.created.append(name)
            docs.append(_node(name))
        if docs:
            kubectl(
                self.env,
                "create",
                "-f",
                "-",
                stdin=json.dumps({"kind": "List", "apiVersion": "v1", "items": docs}),
            )
        deadline = time.monotonic() + timeout
        while True:
            out = kubectl(self.env, "get", "nodes", "-l", NODE_LABEL, "-o", "json")
            ready = {
                n["metadata"]["name"]
                for n in json.loads(out)["items"]
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (n.get("status") or {}).get("conditions") or []
                )
            }
            if ready >= set(self.names):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"KWOK nodes not Ready after {timeout}s: {self.names}")
            time.sleep(0.5)

    def delete(self) -> None:
        if self.created:
            kubectl(self.env, "delete", "node", *self.created, "--wait=false")
            self.created = []


def _node(name: str) -> dict[str, Any]:
    capacity = {"cpu": "1000", "memory": "4Ti", "pods": str(PODS_PER_NODE)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            # The annotation hands the node to KWOK (hack/cluster-up.sh's selector).
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "type": "kwok",
                NODE_LABEL: "true",
            },
        },
        "spec": {"taints": [{"key": NODE_LABEL, "value": "true", "effect": "NoSchedule"}]},
        "status": {"allocatable": capacity, "capacity": capacity},
    }


def pod_template(version: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The demo app's pod template (as bench/latency.py's releases), on the comparison's nodes.

    KWOK pods run nothing: the image is never pulled, KWOK marks the pod Ready.
    """
    template: dict[str, Any] = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": f"spacelift-app:{version}",
                    "imagePullPolicy": "Never",
                    "ports": [{"containerPort": 5000}],
                    "env": [{"name": "APP_VERSION", "value": version}],
                }
            ],
            "nodeSelector": {NODE_LABEL: "true"},
            "tolerations": [
                {"key": NODE_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
            ],
        }
    }
    if labels:
        template["metadata"] = {"labels": dict(labels)}
    return template


# -- watch streams -------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    kind: str
    type: str
    name: str
    mono: float
    wall: float
    obj: dict[str, Any]


Lister = Callable[..., Any]


class Watcher:
    """Watches some kinds of one namespace, each in its own thread; keeps every event."""

    def __init__(self, sources: dict[str, tuple[Lister, tuple[Any, ...]]]) -> None:
        self.sources = sources
        self.events: list[Seen] = []
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._started = dict.fromkeys(sources, False)
        self._watches: list[watch.Watch] = []

    def start(self, timeout: float = 30) -> None:
        for kind, (func, args) in self.sources.items():
            threading.Thread(
                target=self._run, args=(kind, func, args), name=f"watch-{kind}", daemon=True
            ).start()
        deadline = time.monotonic() + timeout
        while not all(self._started.values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"watches did not start: {self._started}")
            time.sleep(0.05)

    def stop(self) -> None:
        self._stopping.set()
        for w in list(self._watches):
            w.stop()  # type: ignore[no-untyped-call]

    def _run(self, kind: str, func: Lister, args: tuple[Any, ...]) -> None:
        version: str | None = None
        while not self._stopping.is_set():
            w = watch.Watch()  # type: ignore[no-untyped-call]
            self._watches.append(w)
            try:
                if version is None:
                    version = self._list(kind, func, args)
                self._started[kind] = True
                for event in w.stream(  # type: ignore[no-untyped-call]
                    func,
                    *args,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=300,
                    deserialize=False,
                ):
                    mono, wall = time.monotonic(), time.time()
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        version = None  # expired: list again
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event["type"] == "BOOKMARK":
                        continue
                    self._record(
                        Seen(kind, event["type"], obj["metadata"]["name"], mono, wall, obj)
                    )
            except client.ApiException as err:
                if err.status == 410:
                    version = None
                self._stopping.wait(0.5)
            except Exception:  # a dropped stream resumes from its version
                self._stopping.wait(0.2)

    def _list(self, kind: str, func: Lister, args: tuple[Any, ...]) -> str:
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

    def of(self, kind: str, name: str | None = None, after: float = 0.0) -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self.events
                if s.kind == kind and s.mono >= after and (name is None or s.name == name)
            ]

    def current(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.latest.get((kind, name))


# -- processes -----------------------------------------------------------------


def rss_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB from /proc/<pid>/status; None once the process is gone."""
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


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's VmHWM of a process to its current RSS (``clear_refs`` 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    after_name = stat.rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


def cluster_pids(env: dict[str, str]) -> dict[str, int]:
    """Pids of the local cluster's components (hack/cluster-up.sh's pid files)."""
    folder = Path(env["BLUEGREEN_CLUSTER_DIR"]) / "pids"
    pids = {}
    for name in ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok"):
        path = folder / f"{name}.pid"
        if path.is_file():
            pids[name] = int(path.read_text().strip())
    return pids


@dataclass
class RssSampler:
    """VmRSS of one process every ``interval`` seconds, in a thread."""

    pid: int
    interval: float = 0.1
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            got = rss_kib(self.pid)
            if got is None:
                return
            self.samples.append((time.monotonic(), got[0]))
            self._stop.wait(self.interval)

    def peak_kib(self, start: float, end: float) -> int | None:
        inside = [kib for t, kib in self.samples if start <= t <= end]
        return max(inside) if inside else None


def mib(kib: float | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def machine() -> dict[str, Any]:
    cpu, mem_kib = "", 0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
