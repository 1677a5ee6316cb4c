"""Leader failover: SIGKILL the leading replica, time the standby's takeover and first act.

Two operator processes elect on one Lease (default timings). Each trial
SIGKILLs whichever leads and, at the same instant, changes a release's spec
(its replicas), then times two moments from the kill:

- *takeover*: the Lease names the standby as holder (its first write);
- *first act*: the release's status shows the new generation observed, a
  status write that only a leader's reconcile makes.

The killed process is started again as the new standby, and the next trial
begins once roles have settled. Moments are sampled every ``POLL_S`` from the
benchmark's side; that resolution is small beside the figures.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client
from tests.integration.harness import REPO, Kubectl, Operator, release, wait_for

from bench.cluster import GROUP, PLURAL, VERSION
from bench.stats import summary

POLL_S = 0.05
TARGET_S = 15.0
"""Issue target: leader SIGKILL → standby's first write under 15 s (default timings)."""


class Replica(Operator):
    def role(self) -> str:
        try:
            url = f"http://127.0.0.1:{self.liveness_port}/readyz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(json.loads(response.read())["role"])
        except (OSError, ValueError, KeyError):
            return ""


def run(env: dict[str, str], api: client.ApiClient, out: Path, trials: int) -> dict[str, Any]:
    k = Kubectl(env)
    namespace = f"bench-failover-{uuid.uuid4().hex[:6]}"
    k.run("create", "namespace", namespace)
    lease = "bench-leader"
    flags = (
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        "--leader-elect",
        "--leader-election-namespace",
        namespace,
        "--leader-election-id",
        lease,
    )
    env = {**env, "PYTHONPATH": str(REPO)}
    replicas = [Replica(env, namespace, out / f"failover-{i}.log", *flags) for i in range(2)]
    custom = client.CustomObjectsApi(api)
    coordination = client.CoordinationV1Api(api)
    takeover: list[float] = []
    first_act: list[float] = []
    try:
        for replica in replicas:
            replica.start()
        body = release("failover", "v1", "http://127.0.0.1:1/", "V1", replicas=1, smoke=[])
        body["metadata"]["namespace"] = namespace
        k.apply(body)
        for trial in range(trials):
            took, acted = _trial(custom, coordination, replicas, namespace, lease, trial)
            takeover.append(took)
            first_act.append(acted)
    finally:
        for replica in replicas:
            replica.kill()
        k.run("delete", "namespace", namespace, "--wait=false", check=False)
    return {
        "trials": trials,
        "timings": {"lease_duration": 10, "renew_deadline": 7, "retry_period": 2},
        "takeover_ms": summary(takeover),
        "first_act_ms": summary(first_act),
        "target_ms": TARGET_S * 1000,
        "poll_ms": POLL_S * 1000,
    }


def _trial(
    custom: client.CustomObjectsApi,
    coordination: client.CoordinationV1Api,
    replicas: list[Replica],
    namespace: str,
    lease: str,
    trial: int,
) -> tuple[float, float]:
    """One kill: seconds to the takeover and to the first act."""
    leader, _ = wait_for("roles to settle", lambda: _roles(replicas), timeout=120)
    generation = _generation(custom, namespace)
    wait_for("the release observed", lambda: _observed(custom, namespace) >= generation)
    holder = _holder(coordination, namespace, lease)
    killed_at = time.monotonic()
    leader.kill(signal.SIGKILL)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "failover", {"spec": {"replicas": 2 + trial % 2}}
    )
    wanted = _generation(custom, namespace)
    took = _until(lambda: _holder(coordination, namespace, lease) not in ("", holder))
    acted = _until(lambda: _observed(custom, namespace) >= wanted)
    leader.start()  # back as the standby of the next trial
    return took - killed_at, acted - killed_at


def _roles(replicas: list[Replica]) -> tuple[Replica, Replica] | None:
    a, b = replicas
    roles = (a.role(), b.role())
    if roles == ("leader", "standby"):
        return a, b
    if roles == ("standby", "leader"):
        return b, a
    return None


def _until(probe: Any, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return time.monotonic()
        time.sleep(POLL_S)
    raise AssertionError("failover did not happen in time")


def _holder(api: client.CoordinationV1Api, namespace: str, lease: str) -> str:
    found = api.read_namespaced_lease(lease, namespace)
    return str(found.spec.holder_identity or "")


def _generation(api: client.CustomObjectsApi, namespace: str) -> int:
    body = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "failover")
    return int(body["metadata"]["generation"])


def _observed(api: client.CustomObjectsApi, namespace: str) -> int:
    body = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "failover")
    return int((body.get("status") or {}).get("observedGeneration") or 0)
