"""Releases and rollbacks back to back on the real node, live traffic, random faults.

Two elected operator replicas drive one release of the demo app on the real
node (kubelet, containerd, kube-proxy). A load generator sends GETs through
the stable Service's ClusterIP for the whole run, one new connection each.
Release after release, either a good version (it must end Complete on its
revision) or one whose hold check fails (it must end RolledBack, serving the
last good revision) is applied; a fault drawn at random is injected once the
release reaches a phase drawn at random: the leader killed, paused past its
Lease or cut off from the API server, the API server or etcd restarted, the
node's kubelet restarted, or none. The run passes when no request failed, the
invariant watcher saw no violation, and every release ended where the
fault-free run ends.

CI runs a short form (``BLUEGREEN_SOAK_RELEASES``, default 6); ``make chaos``
runs 100. Each release appends a line to ``.chaos/live-traffic.jsonl``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.conftest import FULL, Chaos
from tests.chaos.faults import ControlPlane, kill_leader, partition_leader, pause_leader
from tests.chaos.test_fault_matrix import ORDER
from tests.chaos.watcher import InvariantWatcher, wait_until
from tests.conftest import Cluster, _cluster_dir
from tests.e2e.conftest import RealNode, _node_ready
from tests.e2e.test_seed_story import bgr
from tests.e2e.traffic import LoadGenerator, Sample, get
from tests.integration.harness import REPO, Kubectl, Release, wait_for

pytestmark = pytest.mark.node

NAME = "live"
RELEASES = int(os.environ.get("BLUEGREEN_SOAK_RELEASES", "100" if FULL else "6"))
SEED = int(os.environ.get("BLUEGREEN_SOAK_SEED", "20261201"))
RECOVER_TIMEOUT = 240
RESULTS = REPO / ".chaos" / "live-traffic.jsonl"
FAULTS = (
    "none",
    "leader-kill",
    "leader-pause",
    "leader-partition",
    "apiserver-restart",
    "etcd-restart",
    "kubelet-restart",
)
PHASES = ("Deploying", "Verifying", "Switching", "Holding")
FAILING_HOLD = [{"name": "never", "http": {"path": "/", "expectBody": "no such text"}}]


@dataclass(frozen=True)
class Plan:
    kind: str
    """``release`` (ends Complete on it) or ``rollback`` (its hold check fails)."""
    fault: str
    phase: str


def plans(count: int, seed: int) -> list[Plan]:
    """The run, drawn up front from ``seed``: the same seed replays the same run.

    Every fault appears in the short form too, so CI exercises each once.
    """
    rng = random.Random(seed)
    faults = list(FAULTS[1:]) if count < len(FAULTS) * 4 else []
    drawn = []
    for index in range(count):
        fault = faults[index % len(faults)] if faults else rng.choice(FAULTS)
        kind = "rollback" if rng.random() < 0.25 else "release"
        drawn.append(Plan(kind, fault, rng.choice(PHASES)))
    return drawn


def spec(number: int, plan: Plan) -> dict[str, Any]:
    """The demo app, its body changed per release so every release is a new revision."""
    image = "spacelift-app:v1" if number % 2 else "spacelift-app:v2"
    message = f"Spacelift App build {number}"
    if plan.kind == "rollback":
        body = bgr(NAME, image, "build", message=message, hold_seconds=30, hold_checks=FAILING_HOLD)
    else:
        body = bgr(NAME, image, "build", message=message, hold_seconds=3)
    body["spec"]["replicas"] = 2
    return body


def injector(fault: str, chaos: Chaos, cluster: Cluster) -> Callable[[], None]:
    replicas, supervisor = chaos.replicas, chaos.supervisor
    if fault == "leader-kill":
        return lambda: kill_leader(replicas, supervisor)
    if fault == "leader-pause":
        return lambda: pause_leader(replicas, supervisor)
    if fault == "leader-partition":
        inject = partition_leader(replicas, chaos.proxies)
        return lambda: inject(replicas, supervisor)
    if fault in ("apiserver-restart", "etcd-restart"):
        component = "kube-apiserver" if fault == "apiserver-restart" else "etcd"
        return lambda: chaos.control_plane.restart(component)
    if fault == "kubelet-restart":
        node = ControlPlane(_cluster_dir() / "node", lambda: _node_ready(cluster))
        return lambda: node.restart("kubelet")
    return lambda: None


def settled(rel: Release, plan: Plan, generation: int, last_good: str) -> dict[str, Any] | None:
    """The release's status once it ended as the fault-free run ends, else None."""
    try:
        body = rel.get()
    except Exception:  # the API server may be coming back
        return None
    status = dict(body.get("status") or {})
    if int(status.get("observedGeneration") or 0) < generation:
        return None
    active = str((status.get("active") or {}).get("revision", ""))
    if plan.kind == "release":
        done = status.get("phase") == "Complete" and active == status.get("revision")
    else:
        done = status.get("phase") == "RolledBack" and active == last_good
    if not done:
        return None
    if set(rel.deployments()) != {active}:
        return None  # the other revision is still being collected
    return status


def _phases(watcher: InvariantWatcher, since: int) -> list[str]:
    with watcher.lock:
        return list(watcher.phases[since:])


def _reached(phase: str, seen: list[str]) -> bool:
    ends = ("Complete", "RolledBack", "Failed")
    return any(p in ends or (p in ORDER and ORDER.index(p) >= ORDER.index(phase)) for p in seen)


def test_releases_and_rollbacks_under_random_faults_lose_no_request(
    k: Kubectl, chaos: Chaos, cluster: Cluster, real_node: RealNode
) -> None:
    rel = Release(k, chaos.namespace, NAME)
    first = Plan("release", "none", "Holding")
    rel.apply(spec(0, first))
    ended = wait_for(
        "the first release", lambda: settled(rel, first, 1, ""), RECOVER_TIMEOUT, interval=0.5
    )
    last_good = str(ended["active"]["revision"])
    cluster_ip = str(k.json("get", "svc", NAME, "-n", chaos.namespace)["spec"]["clusterIP"])
    wait_for("the app through the stable Service", lambda: get(cluster_ip, 80).ok, timeout=30)
    watcher = InvariantWatcher(chaos.api, chaos.namespace, NAME).start()
    RESULTS.parent.mkdir(exist_ok=True)
    wrong: list[str] = []
    explained: list[dict[str, Any]] = []
    budget = 120 + RELEASES * 90.0
    # Two workers, about 100 requests a second in all: every switch is sampled
    # densely, and a 100-release run stays within the generator's request bound.
    with LoadGenerator(
        cluster_ip, 80, workers=2, max_seconds=budget, max_requests=int(budget * 120), pause=0.02
    ) as load:
        wait_for("load on the first release", lambda: load.count() >= 100, timeout=30)
        for number, plan in enumerate(plans(RELEASES, SEED), start=1):
            since = len(watcher.phases)
            started, sent_before = time.monotonic(), load.count()
            rel.apply(spec(number, plan))
            generation = int(rel.get()["metadata"]["generation"])
            # The phase, or a later one when it went by between two status writes.
            wait_until(
                f"phase {plan.phase}",
                lambda plan=plan, since=since: _reached(plan.phase, _phases(watcher, since)),
                timeout=90,
            )
            at = _phases(watcher, since)[-1:] or ["?"]
            injected = time.monotonic()
            injector(plan.fault, chaos, cluster)()
            try:
                ended = wait_for(
                    f"release {number} ({plan.kind}, {plan.fault})",
                    lambda plan=plan, generation=generation, good=last_good: settled(
                        rel, plan, generation, good
                    ),
                    RECOVER_TIMEOUT,
                    interval=0.5,
                )
            except AssertionError as err:
                wrong.append(f"release {number} {plan}: {err}; status {rel.status()}")
                break
            if plan.kind == "release":
                last_good = str(ended["active"]["revision"])
            failed = [s for s in load.samples if s.start >= started and not s.ok]
            if failed:
                explained.append(_explain(number, plan, failed, injected, watcher))
            _record(
                number,
                plan,
                at[0],
                injected - started,
                time.monotonic() - injected,
                load.count() - sent_before,
                len(failed),
                watcher,
            )
        samples = load.stop()
    violations = watcher.close()
    failures = [s for s in samples if not s.ok]
    summary = {
        "summary": True,
        "releases": RELEASES,
        "seed": SEED,
        "requests": len(samples),
        "failed": len(failures),
        "violations": violations,
        "wrong_end_states": wrong,
        "replica_restarts": chaos.supervisor.restarts,
    }
    with Path(RESULTS).open("a") as out:
        out.write(json.dumps(summary) + "\n")
    print(f"[live traffic] {summary}")
    assert wrong == [], wrong
    assert violations == [], violations
    assert failures == [], {"failed": [(s.start, s.error) for s in failures[:10]], "why": explained}


def _explain(
    number: int, plan: Plan, failed: list[Sample], injected: float, watcher: InvariantWatcher
) -> dict[str, Any]:
    """Failed requests next to the fault, the selector moves and kube-proxy's rule syncs.

    Written to the results and shown by the test's assertion, so that a failure in
    a run nobody watched still says what it coincided with.
    """
    with watcher.lock:
        moves = [
            (round(t - injected, 2), r)
            for t, r in zip(watcher.selected_at, watcher.selected, strict=True)
            if t >= injected - 60
        ]
    kinds: dict[str, int] = {}
    for sample in failed:
        kind = (sample.error or f"HTTP {sample.status}").split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    # Samples are timed on the monotonic clock, kube-proxy's log on the wall clock.
    wall_offset = time.time() - time.monotonic()
    line = {
        "release": number,
        "plan": dataclasses.asdict(plan),
        "failures": kinds,
        "first_s": round(failed[0].start - injected, 2),
        "last_s": round(failed[-1].start - injected, 2),
        "failed_at_s": [round(s.start - injected, 2) for s in failed[:10]],
        "took_s": [round(s.end - s.start, 2) for s in failed[:10]],
        "selector_moves_s": moves,
        "errors": sorted({s.error or str(s.status) for s in failed})[:5],
        "load_average": os.getloadavg(),
        "kube_proxy_syncs_s": [
            round(at - wall_offset - injected, 2)
            for at in _kube_proxy_syncs()
            if failed[0].start - 10 <= at - wall_offset <= failed[-1].end + 10
        ],
    }
    with Path(RESULTS).open("a") as out:
        out.write(json.dumps(line) + "\n")
    return line


KUBE_PROXY_SYNC = re.compile(r"^I(\d\d)(\d\d) (\d\d):(\d\d):(\d\d\.\d+) .*SyncProxyRules complete")


def _kube_proxy_syncs() -> list[float]:
    """When kube-proxy on the real node finished writing its rules (epoch seconds)."""
    log = _cluster_dir() / "node" / "logs" / "kube-proxy.log"
    try:
        lines = log.read_text(errors="replace").splitlines()[-20000:]
    except OSError:
        return []
    year = time.localtime().tm_year
    syncs = []
    for text in lines:
        found = KUBE_PROXY_SYNC.match(text)
        if found:
            month, day, hour, minute, second = found.groups()
            # klog writes local time, without the year.
            fields = (year, int(month), int(day), int(hour), int(minute), 0, 0, 0, -1)
            syncs.append(time.mktime(fields) + float(second))
    return syncs


def _record(
    number: int,
    plan: Plan,
    phase_seen: str,
    injected_after: float,
    recovered: float,
    sent: int,
    failed: int,
    watcher: InvariantWatcher,
) -> None:
    with watcher.lock:
        violations = len(watcher.violations)
    line = {
        "release": number,
        "kind": plan.kind,
        "fault": plan.fault,
        "phase": plan.phase,
        "phase_at_injection": phase_seen,
        "injected_after_s": round(injected_after, 1),
        "recovered_s": round(recovered, 1),
        "requests": sent,
        "failed": failed,
        "violations_so_far": violations,
    }
    with Path(RESULTS).open("a") as out:
        out.write(json.dumps(line) + "\n")
