"""Faults in every phase of a release: nothing an invariant forbids, the same end state.

Two operator replicas elect a leader; a release goes v1 → v2. When the
invariant watcher sees the phase under test, the fault is injected: the
leader killed, paused past its Lease, cut off from the API server, the API
server slowed (every answer delayed half a second for 20 s) or failing every
write of the release's objects with a 500 (20 s), or the API server or etcd
restarted. The release must then reach the end state a
fault-free run reaches (Complete and Ready on the wanted revision, only that
revision's Deployment left), and the watcher must have seen no violation of
DESIGN.md's invariants at any moment.

Each run appends one line to ``.chaos/results.jsonl`` (fault, phase seen at
injection, violations, time to recover) for the table in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.conftest import FULL, Chaos
from tests.chaos.faults import (
    Replica,
    Supervisor,
    failing_writes,
    kill_leader,
    partition_leader,
    pause_leader,
    slow_api,
)
from tests.chaos.watcher import InvariantWatcher, wait_until
from tests.integration.harness import REPO, App, Kubectl, Release, release

NAME = "chaos"
HOLD_SECONDS = 12
RECOVER_TIMEOUT = 180
RESULTS = REPO / ".chaos" / "results.jsonl"
PHASES = ("Provisioning", "Deploying", "Verifying", "Switching", "Holding")
FAULTS = (
    "leader-kill",
    "leader-pause",
    "leader-partition",
    "apiserver-restart",
    "apiserver-slow",
    "apiserver-500",
    "etcd-restart",
)
SHORT = {
    "apiserver-slow": "Provisioning",
    "apiserver-500": "Holding",
    "leader-kill": "Verifying",
    "leader-pause": "Holding",
    "leader-partition": "Deploying",
    "apiserver-restart": "Switching",
    "etcd-restart": "Holding",
}
"""CI's short form: one phase per fault, a different one each."""
MATRIX = [(f, p) for f in FAULTS for p in PHASES] if FULL else list(SHORT.items())


def _injector(fault: str, chaos: Chaos) -> Callable[[list[Replica], Supervisor], None]:
    if fault == "leader-kill":
        return kill_leader
    if fault == "leader-pause":
        return pause_leader
    if fault == "leader-partition":
        return partition_leader(chaos.replicas, chaos.proxies)
    if fault == "apiserver-slow":
        return slow_api(chaos.proxies)
    if fault == "apiserver-500":
        return failing_writes(chaos.api, chaos.namespace)
    component = "kube-apiserver" if fault == "apiserver-restart" else "etcd"
    if not (chaos.control_plane.pids / f"{component}.pid").is_file():
        pytest.skip(f"{component} is not a process of the project's own cluster")
    return lambda replicas, supervisor: chaos.control_plane.restart(component)


def _body(version: str, app: App) -> dict[str, Any]:
    return release(NAME, version, app.url, version.upper(), replicas=2, hold=HOLD_SECONDS)


def _at_end(rel: Release, version: str) -> bool:
    try:
        status = rel.status()
    except Exception:  # the API server may be coming back
        return False
    active = status.get("active") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return (
        status.get("phase") == "Complete"
        and str(active.get("image", "")).endswith(version)
        and bool(ready)
        and ready[0]["status"] == "True"
        and set(rel.deployments()) == {active.get("revision")}
    )


@pytest.mark.parametrize(("fault", "phase"), MATRIX)
def test_a_fault_in_a_phase_breaks_no_invariant_and_changes_no_outcome(
    k: Kubectl, chaos: Chaos, apps: dict[str, App], fault: str, phase: str
) -> None:
    inject = _injector(fault, chaos)
    watcher = InvariantWatcher(chaos.api, chaos.namespace, NAME).start()
    rel = Release(k, chaos.namespace, NAME)
    final = "v1" if phase == "Provisioning" else "v2"
    try:
        rel.apply(_body("v1", apps["v1"]))
        if final == "v2":
            wait_until("v1 released", lambda: _at_end(rel, "v1"), RECOVER_TIMEOUT)
            rel.apply(_body("v2", apps["v2"]))
        wait_until(f"phase {phase}", lambda: _reached(phase, _phases_since(watcher, final)), 90)
        seen = _current_phase(watcher)
        injected = time.monotonic()
        inject(chaos.replicas, chaos.supervisor)
        wait_until(f"{final} released", lambda: _at_end(rel, final), RECOVER_TIMEOUT)
        recovered = time.monotonic() - injected
    finally:
        violations = watcher.close()
    _record(fault, phase, seen, violations, recovered, chaos.supervisor.restarts)
    assert violations == [], violations
    assert rel.selector()["bluegreen.dev/revision"] == rel.revision()


def _phases_since(watcher: InvariantWatcher, final: str) -> list[str]:
    """Phases of the release under test: for v2, those after v1 completed."""
    with watcher.lock:
        phases = list(watcher.phases)
    if final == "v2" and "Complete" in phases:
        return phases[phases.index("Complete") + 1 :]
    return phases


ORDER = ("Pending", *PHASES[:3], "AwaitingPromotion", *PHASES[3:], "Complete")


def _reached(phase: str, seen: list[str]) -> bool:
    """The phase, or a later one when it passed between two status writes unseen."""
    return any(ORDER.index(p) >= ORDER.index(phase) for p in seen if p in ORDER)


def _current_phase(watcher: InvariantWatcher) -> str:
    with watcher.lock:
        return watcher.phases[-1] if watcher.phases else ""


def _record(
    fault: str, phase: str, seen: str, violations: list[str], recovered: float, restarts: int
) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    line = {
        "fault": fault,
        "phase": phase,
        "phase_at_injection": seen,
        "violations": violations,
        "recovered_s": round(recovered, 1),
        "replica_restarts": restarts,
        "end_state": "same as fault-free" if not violations else "see violations",
    }
    with Path(RESULTS).open("a") as out:
        out.write(json.dumps(line) + "\n")
