"""Test harness for the operator on the real local cluster.

Everything here is real: the operator runs as its own process (killable with
SIGKILL), the demo app runs as local Flask processes (KWOK pods have no
network, so HTTP checks are pointed at them), and waits poll the API server
for a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


_PICKED_PORTS: set[int] = set()
_PORTS = range(20000, 30000)
"""Below the kernel's ephemeral range (32768-60999 on Linux) and the NodePort range
(30000-32767): a port the kernel picked for us is free only until something binds
it, and every outgoing connection takes such ports. A CI run lost the operator's
liveness port that way, between this pick and the operator's bind."""


def free_port() -> int:
    """A port free on every address now, that no outgoing connection will take."""
    for _ in range(500):
        port = random.choice(_PORTS)
        if port in _PICKED_PORTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
        _PICKED_PORTS.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORTS}")


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 60, interval: float = 0.2
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Kubectl:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        done = subprocess.run(
            ["kubectl", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done.stdout + (done.stderr if not check else "")

    def json(self, *args: str) -> Any:
        out = self.run(*args, "-o", "json", check=False)
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return None

    def apply(self, obj: Mapping[str, Any]) -> None:
        self.run("apply", "-f", "-", stdin=json.dumps(obj))


def kubeconfig_with_token(admin_kubeconfig: Path, path: Path, token: str, namespace: str) -> Path:
    """A kubeconfig at ``path`` for the admin's cluster with only ``token`` as the user
    (context ``limited``, its namespace ``namespace``): what a limited user holds."""
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    entry = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [entry],
        "contexts": [
            {
                "name": "limited",
                "context": {"cluster": entry["name"], "user": "limited", "namespace": namespace},
            }
        ],
        "current-context": "limited",
        "users": [{"name": "limited", "user": {"token": token}}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def delete_namespace(k: Kubectl, name: str) -> None:
    """Delete a test's namespace once the test's operator has stopped.

    Nobody is left to run the finalizer of the releases still in it: without
    this the namespace would stay Terminating for ever, and so would a later
    deletion of the CRD (tests/e2e/test_installed_operator.py uninstalls).
    What the finalizer would have cleaned up goes with the namespace.
    """
    listed = k.json("get", "bluegreenreleases", "-n", name) or {}
    for item in listed.get("items", []):
        k.run(
            "patch",
            "bluegreenrelease",
            item["metadata"]["name"],
            "-n",
            name,
            "--type=json",
            "-p",
            '[{"op": "remove", "path": "/metadata/finalizers"}]',
            check=False,
        )
    k.run("delete", "namespace", name, "--wait=false", check=False)


class App:
    """The real demo app from app/, as a local process on its own port."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "APP_VERSION": version}
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "app" / "app.py"), "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"app {version} on {self.port}", self._answers, timeout=30)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Operator:
    """The operator as a real process, watching one namespace."""

    def __init__(self, env: Mapping[str, str], namespace: str, log: Path, *extra: str) -> None:
        self.env, self.namespace, self.log, self.extra = dict(env), namespace, log, extra
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            sys.executable,
            "-m",
            "bluegreen",
            "--namespace",
            self.namespace,
            "--metrics-port",
            str(self.metrics_port),
            "--liveness-port",
            str(self.liveness_port),
            "--terraform-work-dir",
            str(self.log.parent / "tf-work"),
            # KWOK pods serve nothing: checks name the local demo app by URL.
            "--check-allowed-hosts",
            "127.0.0.1",
            *self.extra,
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, env=self.env, stdout=out, stderr=out)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics") as r:
            return str(r.read().decode())


def release(
    name: str,
    version: str,
    smoke_url: str,
    expect: str,
    *,
    replicas: int = 3,
    hold: int = 3,
    readiness_timeout: int = 60,
    pod_labels: Mapping[str, str] | None = None,
    hold_checks: list[dict[str, Any]] | None = None,
    smoke: list[dict[str, Any]] | None = None,
    auto: bool = True,
    service_port: int = 80,
) -> dict[str, Any]:
    """A BlueGreenRelease for the demo app; ``version`` changes the pod template."""
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
            ]
        }
    }
    if pod_labels:
        template["metadata"] = {"labels": dict(pod_labels)}
    checks = (
        smoke
        if smoke is not None
        else [{"name": "home", "http": {"url": smoke_url, "path": "/", "expectBody": expect}}]
    )
    return {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenRelease",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "template": template,
            "service": {"name": name, "port": service_port, "targetPort": 5000},
            "previewService": {"name": f"{name}-preview"},
            "checks": {"readiness": {"timeoutSeconds": readiness_timeout}, "smoke": checks},
            "promotion": {"auto": auto},
            "hold": {"seconds": hold, "checks": hold_checks or [], "checkIntervalSeconds": 1},
        },
    }


class Release:
    """Reads of one BlueGreenRelease and what it owns."""

    def __init__(self, kubectl: Kubectl, namespace: str, name: str) -> None:
        self.k, self.ns, self.name = kubectl, namespace, name

    def apply(self, body: Mapping[str, Any]) -> None:
        self.k.apply({**body, "metadata": {**body["metadata"], "namespace": self.ns}})

    def get(self) -> dict[str, Any]:
        return self.k.json("get", "bgr", self.name, "-n", self.ns) or {}

    def status(self) -> dict[str, Any]:
        return dict(self.get().get("status") or {})

    def condition(self, kind: str) -> dict[str, Any]:
        for c in self.status().get("conditions") or []:
            if c["type"] == kind:
                return dict(c)
        return {}

    def selector(self, service: str | None = None) -> dict[str, str]:
        svc = self.k.json("get", "svc", service or self.name, "-n", self.ns) or {}
        return dict(svc.get("spec", {}).get("selector") or {})

    def deployments(self) -> dict[str, dict[str, Any]]:
        items = (
            self.k.json("get", "deploy", "-n", self.ns, "-l", f"bluegreen.dev/release={self.name}")
            or {}
        ).get("items", [])
        return {d["metadata"]["labels"]["bluegreen.dev/revision"]: d for d in items}

    def events(self) -> list[str]:
        items = (
            self.k.json(
                "get",
                "events",
                "-n",
                self.ns,
                "--field-selector",
                f"involvedObject.name={self.name},involvedObject.kind=BlueGreenRelease",
            )
            or {}
        ).get("items", [])
        return [e["reason"] for e in sorted(items, key=lambda e: e.get("lastTimestamp") or "")]

    def wait_phase(self, *phases: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(
            f"{self.name} in phase {phases}",
            lambda: (s := self.status()) and s.get("phase") in phases and s,
            timeout=timeout,
        )

    def wait_condition(self, kind: str, value: str = "True", timeout: float = 60) -> dict[str, Any]:
        generation = lambda: self.get().get("metadata", {}).get("generation")  # noqa: E731
        return wait_for(
            f"{self.name} condition {kind}={value}",
            lambda: (
                (c := self.condition(kind))
                and c.get("status") == value
                and c.get("observedGeneration") == generation()
                and c
            ),
            timeout=timeout,
        )

    def revision(self) -> str:
        return str(self.status().get("revision", ""))
