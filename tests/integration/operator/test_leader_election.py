"""Two operator processes, one Lease: one acts, the other stands by; faults move the lead.

Both replicas run as real processes against the real API server, electing on
a Lease in the test's namespace. What is checked is what users rely on: only
the leader writes, a standby takes over when the leader dies or stops, and a
leader that was paused past its Lease never acts again when it resumes.
"""

from __future__ import annotations

import json
import signal
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cluster
from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "shop"


class Replica(Operator):
    def role(self) -> str:
        """What /readyz says: ``leader`` or ``standby``; empty while it does not answer."""
        try:
            url = f"http://127.0.0.1:{self.liveness_port}/readyz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(json.loads(response.read())["role"])
        except (OSError, ValueError, KeyError):
            return ""

    def switches(self) -> float:
        """Selector patches this process made (its own metrics)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("bluegreen_traffic_switches_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture
def replicas(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path
) -> Iterator[tuple[Replica, Replica, str]]:
    lease = f"lease-{uuid.uuid4().hex[:6]}"
    pair = tuple(
        Replica(
            cluster.env,
            namespace,
            tmp_path / f"replica-{i}.log",
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
        for i in range(2)
    )
    for replica in pair:
        replica.start()
    yield pair[0], pair[1], lease
    for replica in pair:
        replica.kill()
        print(f"--- {replica.log}\n{replica.log.read_text()[-3000:]}")


def _roles(a: Replica, b: Replica) -> tuple[Replica, Replica] | None:
    """(leader, standby) once exactly one leads and the other answers as standby."""
    roles = (a.role(), b.role())
    if roles == ("leader", "standby"):
        return a, b
    if roles == ("standby", "leader"):
        return b, a
    return None


def _holder(k: Kubectl, namespace: str, lease: str) -> str:
    found = k.json("get", "lease", lease, "-n", namespace) or {}
    return str(found.get("spec", {}).get("holderIdentity") or "")


def _serving(k: Kubectl, namespace: str, version: str, url: str, expect: str) -> Release:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, version, url, expect, hold=0))
    wait_for(f"{version} Ready", lambda: _ready_on(rel, version), timeout=90)
    return rel


def _ready_on(rel: Release, version: str) -> bool:
    status = rel.status()
    image = (status.get("active") or {}).get("image", "")
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return image.endswith(version) and bool(ready) and ready[0]["status"] == "True"


def test_only_the_leader_acts_and_a_standby_takes_over_after_a_kill(
    k: Kubectl,
    namespace: str,
    replicas: tuple[Replica, Replica, str],
    apps: dict[str, App],
) -> None:
    a, b, lease = replicas
    leader, standby = wait_for("one leader and one standby", lambda: _roles(a, b), timeout=60)
    _serving(k, namespace, "v1", apps["v1"].url, "V1")
    assert leader.switches() >= 1
    assert standby.switches() == 0, "a standby never writes"
    assert "bluegreen_leader 0.0" in standby.metrics()
    before = _holder(k, namespace, lease)
    leader.kill(signal.SIGKILL)
    wait_for("the standby to lead", lambda: standby.role() == "leader", timeout=60)
    assert _holder(k, namespace, lease) not in ("", before)
    rel = _serving(k, namespace, "v2", apps["v2"].url, "V2")
    assert standby.switches() >= 1, "the new leader made the v2 switch"
    assert rel.selector()["bluegreen.dev/revision"] == rel.revision()


def test_a_leader_stopped_with_sigterm_hands_over_at_once(
    k: Kubectl, namespace: str, replicas: tuple[Replica, Replica, str]
) -> None:
    a, b, lease = replicas
    leader, standby = wait_for("one leader and one standby", lambda: _roles(a, b), timeout=60)
    held_by = _holder(k, namespace, lease)
    leader.kill(signal.SIGTERM)
    assert leader.process is not None and leader.process.returncode == 0
    # Released on the way out, not left to expire: the old holder is gone already.
    assert _holder(k, namespace, lease) != held_by
    lease_after = wait_for(
        "the standby to hold the Lease",
        lambda: standby.role() == "leader" and _holder(k, namespace, lease),
        timeout=30,
    )
    # Identities are ``<pod or host name>_<random>``: unique per process.
    assert lease_after.startswith(socket.gethostname() + "_")
    assert lease_after != held_by


def test_a_paused_leader_is_fenced_when_it_resumes(
    k: Kubectl,
    namespace: str,
    replicas: tuple[Replica, Replica, str],
    apps: dict[str, App],
) -> None:
    a, b, _lease = replicas
    leader, standby = wait_for("one leader and one standby", lambda: _roles(a, b), timeout=60)
    rel = _serving(k, namespace, "v1", apps["v1"].url, "V1")
    assert leader.process is not None
    leader.process.send_signal(signal.SIGSTOP)
    try:
        wait_for("the standby to take the lapsed Lease", lambda: standby.role() == "leader", 60)
        # The new leader releases v2 while the old one is frozen mid-flight.
        _serving(k, namespace, "v2", apps["v2"].url, "V2")
    finally:
        leader.process.send_signal(signal.SIGCONT)
    # On waking, its Lease is past the renew deadline: it stops, it does not act.
    code = wait_for("the old leader to exit", lambda: leader.process.poll() is not None, 30)
    assert code and leader.process.returncode == 1
    assert "leadership lost" in leader.log.read_text()
    assert _ready_on(rel, "v2")
    assert rel.selector()["bluegreen.dev/revision"] == rel.revision()
    assert standby.role() == "leader"
