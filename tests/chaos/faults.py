"""Faults injected into a running release: real processes killed, paused, cut off.

Every fault acts on something real: the operator replicas (processes of this
test), the network between a replica and the API server (a TCP proxy the
replica's kubeconfig points at), and the control plane's own processes
(restarted from their recorded command lines, so ``make cluster-down`` still
stops them). Each ``inject`` returns once the fault has been applied and, for
faults with a duration, lifted again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.harness import Operator, wait_for

LEASE_SECONDS = 10.0
"""The operator's default lease duration: how long a silent leader keeps the Lease."""


class Replica(Operator):
    """An operator replica; ``role()`` reads /readyz."""

    def role(self) -> str:
        try:
            url = f"http://127.0.0.1:{self.liveness_port}/readyz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(json.loads(response.read())["role"])
        except (OSError, ValueError, KeyError):
            return ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor(threading.Thread):
    """Restarts a replica that exited, as the kubelet restarts a container."""

    def __init__(self, replicas: list[Replica]) -> None:
        super().__init__(daemon=True)
        self.replicas = replicas
        self.stop = threading.Event()
        self.paused: set[int] = set()
        self.restarts = 0

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for index, replica in enumerate(self.replicas):
                if index not in self.paused and not replica.alive:
                    replica.start()
                    self.restarts += 1


class Proxy(threading.Thread):
    """A TCP proxy to the API server; ``cut()`` drops every connection and refuses new
    ones until ``heal()``: a network partition of whoever connects through it.
    ``latency`` delays every chunk the API server sends (an API server slowed down,
    as toxiproxy's latency toxic does)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = threading.Event()
        self.open.set()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.latency = 0.0

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            # The timeout bounds the connect only: a watch stream may stay quiet for
            # minutes, and a proxy that drops it then would hide events from its client.
            server.settimeout(None)
            with self.lock:
                self.connections += [client, server]
            for a, b, answers in ((client, server, False), (server, client, True)):
                threading.Thread(target=self._pipe, args=(a, b, answers), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while self.open.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if answers and self.latency:
                    time.sleep(self.latency)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # shutdown, not just close: the other direction's thread still blocks in
            # recv on these sockets, and only shutdown makes the peers see the end.
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self.connections.clear()

    def heal(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def leader_of(replicas: list[Replica]) -> tuple[Replica, Replica]:
    """(leader, standby), waiting until exactly one leads."""

    def roles() -> tuple[Replica, Replica] | None:
        a, b = replicas
        found = (a.role(), b.role())
        if found == ("leader", "standby"):
            return a, b
        if found == ("standby", "leader"):
            return b, a
        return None

    return wait_for("one leader and one standby", roles, timeout=90)


def kill_leader(replicas: list[Replica], supervisor: Supervisor) -> None:
    leader, _ = leader_of(replicas)
    leader.kill(signal.SIGKILL)


def pause_leader(replicas: list[Replica], supervisor: Supervisor) -> None:
    """SIGSTOP past the Lease, then SIGCONT: it must wake fenced, and exit."""
    leader, standby = leader_of(replicas)
    index = replicas.index(leader)
    supervisor.paused.add(index)
    assert leader.process is not None
    leader.process.send_signal(signal.SIGSTOP)
    try:
        wait_for("the standby to take over", lambda: standby.role() == "leader", 60)
    finally:
        leader.process.send_signal(signal.SIGCONT)
        supervisor.paused.discard(index)


def partition_leader(replicas: list[Replica], proxies: dict[int, Proxy]) -> Callable[..., None]:
    def inject(replicas: list[Replica], supervisor: Supervisor) -> None:
        leader, standby = leader_of(replicas)
        proxy = proxies[replicas.index(leader)]
        proxy.cut()
        try:
            wait_for("the standby to take over", lambda: standby.role() == "leader", 60)
        finally:
            proxy.heal()

    return inject


SLOW_SECONDS = 20.0
"""How long the API server stays slow."""


def slow_api(proxies: dict[int, Proxy], latency: float = 0.5) -> Callable[..., None]:
    """Every answer of the API server to both replicas delayed by ``latency``, for a while."""

    def inject(replicas: list[Replica], supervisor: Supervisor) -> None:
        for proxy in proxies.values():
            proxy.latency = latency
        try:
            time.sleep(SLOW_SECONDS)  # the fault's duration, not a wait for a condition
        finally:
            for proxy in proxies.values():
                proxy.latency = 0.0

    return inject


def failing_writes(api: Any, namespace: str) -> Callable[..., None]:
    """The API server answers 500 to every write of the release's objects, for a while.

    A validating admission webhook with ``failurePolicy: Fail`` whose endpoint
    refuses connections: the API server itself fails each matching CREATE,
    UPDATE (patches included) and DELETE of Services, Deployments and releases
    (status too) in ``namespace`` with an internal error. Controllers' status
    writes of Deployments and the Lease are not matched.
    """
    from kubernetes import client

    name = f"chaos-500-{namespace}"
    body = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "fail.chaos.bluegreen.dev",
                "clientConfig": {"url": "https://127.0.0.1:1/fail"},
                "rules": [
                    {
                        "apiGroups": ["", "apps", "bluegreen.dev"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE", "DELETE"],
                        "resources": [
                            "services",
                            "deployments",
                            "bluegreenreleases",
                            "bluegreenreleases/status",
                        ],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 1,
            }
        ],
    }

    def inject(replicas: list[Replica], supervisor: Supervisor) -> None:
        admission = client.AdmissionregistrationV1Api(api)
        admission.create_validating_webhook_configuration(body)
        try:
            time.sleep(SLOW_SECONDS)  # the fault's duration, not a wait for a condition
        finally:
            admission.delete_validating_webhook_configuration(name)

    return inject


class ControlPlane:
    """Restart kube-apiserver or etcd of the local cluster from their recorded command lines."""

    def __init__(self, cluster_dir: Path, api_ready: Callable[[], bool]) -> None:
        self.pids = cluster_dir / "pids"
        self.logs = cluster_dir / "logs"
        self.api_ready = api_ready

    def restart(self, name: str, sig: int = signal.SIGTERM) -> None:
        pid_file = self.pids / f"{name}.pid"
        pid = int(pid_file.read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        os.kill(pid, sig)
        _wait_gone(pid)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [a.decode() for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        pid_file.write_text(f"{process.pid}\n")
        wait_for(f"{name} back and the API server ready", self.api_ready, timeout=90)


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A zombie of a process we did not start is reaped by its parent (init).
        if _zombie(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def signal_processes_under(folder: Path, sig: int, name: str = "terraform") -> int:
    """Send ``sig`` to every ``name`` process working under ``folder``: SIGKILL for a
    crash mid-run, SIGSTOP for a run that hangs (the operator's timeout must end it)."""
    killed = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = (proc / "cwd").resolve()
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith(name) and str(cwd).startswith(str(folder)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), sig)
                killed += 1
    return killed
