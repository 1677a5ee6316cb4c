"""Shards on the real API server: each namespace is acted on by one shard only, and
while a replica counts shards differently (a rollout from 2 to 3 shards), nobody
acts until the disagreement is gone. The proof of who wrote what is the API
server's own audit log (each shard has its own user agent)."""

from __future__ import annotations

import itertools
import signal
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.compare.audit import events_between as audit_events

from bluegreen.core.sharding import shard_of
from tests.conftest import Cluster
from tests.integration.harness import Kubectl, Release, release, wait_for
from tests.integration.operator.test_leader_election import Replica

WRITES = {"create", "patch", "update", "delete"}


def _namespaces_for(shards: int, per_shard: int, tag: str) -> list[str]:
    """Namespace names covering every shard ``per_shard`` times."""
    chosen: dict[int, list[str]] = defaultdict(list)
    for i in itertools.count():
        name = f"sh-{tag}-{i}"
        owner = shard_of(name, shards)
        if len(chosen[owner]) < per_shard:
            chosen[owner].append(name)
        if all(len(chosen[s]) == per_shard for s in range(shards)):
            return [n for s in range(shards) for n in chosen[s]]
        assert i < 1000


@pytest.fixture
def spaces(k: Kubectl) -> Iterator[list[str]]:
    names = _namespaces_for(2, 2, uuid.uuid4().hex[:5])
    for name in names:
        k.run("create", "namespace", name)
    yield names
    for name in names:
        k.run("delete", "bgr", "--all", "-n", name, "--wait=false", check=False)
        k.run("delete", "namespace", name, "--wait=false", check=False)


def _replica(cluster: Cluster, tmp: Path, election: str, spaces: list[str], *shard: str) -> Replica:
    others = [arg for space in spaces[1:] for arg in ("--namespace", space)]
    replica = Replica(
        cluster.env,
        spaces[0],
        tmp / f"shard-{'-'.join(shard)}.log",
        *others,
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        "--leader-elect",
        "--leader-election-namespace",
        election,
        "--leader-election-id",
        "shop-operator",
        "--shards",
        shard[0],
        "--shard-index",
        shard[1],
        "--retry-period",
        "1",
    )
    replica.start()
    return replica


def _ready(k: Kubectl, space: str, generation: int) -> bool:
    body = Release(k, space, "shop").get()
    if int((body.get("status") or {}).get("observedGeneration") or 0) < generation:
        return False
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (body.get("status") or {}).get("conditions") or []
    )


def test_each_namespace_has_one_shard_and_a_count_change_pauses_all(
    cluster: Cluster, k: Kubectl, namespace: str, spaces: list[str], tmp_path: Path
) -> None:
    audit = cluster.kubeconfig.parent / "audit.log"
    started = datetime.now(UTC)
    replicas = [_replica(cluster, tmp_path, namespace, spaces, "2", str(i)) for i in range(2)]
    newcomer: Replica | None = None
    try:
        wait_for("both shards leading", lambda: all(r.role() == "leader" for r in replicas))
        for space in spaces:
            body = release("shop", "v1", "", "", replicas=1, hold=0, smoke=[])
            Release(k, space, "shop").apply(body)
        for space in spaces:
            wait_for(f"{space} Ready on v1", lambda space=space: _ready(k, space, 1), timeout=90)

        # A replica started for 3 shards: it takes the free Lease of shard 2 and finds
        # the others counting 2; they find it counting 3. Nobody may act now.
        newcomer = _replica(cluster, tmp_path, namespace, spaces, "3", "2")
        wait_for(
            "every shard standing by",
            lambda: [r.role() for r in (*replicas, newcomer)] == ["standby"] * 3,
            timeout=30,
        )
        for space in spaces:
            body = release("shop", "v2", "", "", replicas=1, hold=0, smoke=[])
            Release(k, space, "shop").apply(body)
        # Nothing moves while they disagree: no candidate for v2 anywhere.
        with pytest.raises(AssertionError):
            wait_for(
                "any v2 candidate while the shards disagree",
                lambda: any(
                    (Release(k, space, "shop").status().get("preview") or {}).get("image")
                    == "spacelift-app:v2"
                    for space in spaces
                ),
                timeout=8,
            )

        newcomer.kill(signal.SIGTERM)  # it releases its Lease: the counts agree again
        for space in spaces:
            wait_for(f"{space} Ready on v2", lambda space=space: _ready(k, space, 2), timeout=90)
    finally:
        for replica in (*replicas, *([newcomer] if newcomer else [])):
            replica.kill()
            print(f"--- {replica.log}\n{replica.log.read_text()[-2000:]}")

    writers: dict[str, set[str]] = defaultdict(set)
    lease_writers: set[str] = set()
    for event in audit_events(audit, "bluegreen-operator/", started, datetime.now(UTC)):
        space = (event.get("objectRef") or {}).get("namespace")
        if event.get("verb") in WRITES and space in spaces:
            writers[str(space)].add(str(event.get("userAgent")))
        if event.get("verb") in WRITES and (event.get("objectRef") or {}).get("resource") == (
            "leases"
        ):
            lease_writers.add(str(event.get("userAgent")))
    assert lease_writers, "the shards wrote their Leases"
    assert all(" (shard " in agent for agent in lease_writers), (
        f"every Lease write names its shard: {lease_writers}"
    )
    assert set(writers) == set(spaces), "every namespace was written by some shard"
    for space, agents in writers.items():
        owner = shard_of(space, 2)
        assert agents == {_agent(agents, f"(shard {owner} of 2)")}, (space, agents)


def _agent(agents: set[str], suffix: str) -> str:
    return next((a for a in agents if a.endswith(suffix)), f"<none ending {suffix}>")


@pytest.fixture(autouse=True)
def _audit_log(cluster: Cluster) -> None:
    if not (cluster.kubeconfig.parent / "audit.log").is_file():
        pytest.fail("the local cluster writes no audit log: restart it with hack/cluster-up.sh")
