"""Candidate pods that crash-loop after they became ready, on the real node, under load.

The candidate's container serves, passes its readiness probe and smoke check,
then is killed and restarted by the kubelet, again and again. Readiness alone
would look fine between two crashes; the operator counts container restarts
since the candidate became available:

- crashing while it awaits promotion: the candidate fails (ContainersRestarting),
  no request ever reaches it, v1 serves throughout;
- crashing after the switch, in its hold: the stable Service goes back to v1 at
  once; requests fail only while the killed pods were still selected.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.chaos.conftest import Chaos
from tests.chaos.watcher import InvariantWatcher
from tests.e2e.conftest import RealNode
from tests.e2e.test_seed_story import bgr
from tests.e2e.traffic import LoadGenerator, get
from tests.integration.harness import Kubectl, Release, wait_for

pytestmark = pytest.mark.node

NAME = "crashy"
TIMEOUT = 180


def _crashing(seconds: int, **extra: Any) -> dict[str, Any]:
    """v2 whose container is killed ``seconds`` after each start: a crash loop."""
    body = bgr(NAME, "spacelift-app:v2", "crash", message="Spacelift App crash build", **extra)
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["command"] = [
        "/bin/sh",
        "-c",
        f"python3 /app/app.py --host 0.0.0.0 --port 5000 & sleep {seconds}; kill -9 $!; exit 1",
    ]
    body["spec"]["replicas"] = 2
    return body


def _v1() -> dict[str, Any]:
    body = bgr(NAME, "spacelift-app:v1", "V1")
    body["spec"]["replicas"] = 2
    return body


def _serving(rel: Release) -> str:
    return str((rel.status().get("active") or {}).get("revision", ""))


def _start(k: Kubectl, chaos: Chaos) -> tuple[Release, str, str]:
    rel = Release(k, chaos.namespace, NAME)
    rel.apply(_v1())
    rel.wait_condition("Ready", timeout=TIMEOUT)
    cluster_ip = str(k.json("get", "svc", NAME, "-n", chaos.namespace)["spec"]["clusterIP"])
    wait_for("v1 through the stable Service", lambda: get(cluster_ip, 80).ok, timeout=30)
    return rel, cluster_ip, _serving(rel)


def _restarts(k: Kubectl, namespace: str, revision: str) -> int:
    pods = k.json("get", "pods", "-n", namespace, "-l", f"bluegreen.dev/revision={revision}")
    return sum(
        int(c.get("restartCount") or 0)
        for p in (pods or {}).get("items", [])
        for c in (p.get("status") or {}).get("containerStatuses") or []
    )


def test_a_candidate_crashing_before_promotion_never_takes_traffic(
    k: Kubectl, chaos: Chaos, real_node: RealNode
) -> None:
    rel, cluster_ip, v1 = _start(k, chaos)
    watcher = InvariantWatcher(chaos.api, chaos.namespace, NAME).start()
    with LoadGenerator(cluster_ip, 80, workers=2, max_seconds=TIMEOUT + 60, pause=0.02) as load:
        body = _crashing(6)
        body["spec"]["promotion"] = {"auto": False}
        rel.apply(body)
        rel.wait_phase("Failed", timeout=TIMEOUT)
        samples = load.stop()
    violations = watcher.close()
    assert rel.condition("CandidateReady").get("reason") == "ContainersRestarting"
    assert _serving(rel) == v1 and rel.selector()["bluegreen.dev/revision"] == v1
    assert watcher.selected == [v1], watcher.selected
    assert violations == [], violations
    failed = [s for s in samples if not s.ok]
    print(f"[crash loop] before promotion: sent={len(samples)} failed={len(failed)}")
    assert samples and failed == [], failed[:5]


def test_a_revision_crashing_in_its_hold_goes_back_at_once(
    k: Kubectl, chaos: Chaos, real_node: RealNode
) -> None:
    rel, cluster_ip, v1 = _start(k, chaos)
    watcher = InvariantWatcher(chaos.api, chaos.namespace, NAME).start()
    with LoadGenerator(cluster_ip, 80, workers=2, max_seconds=TIMEOUT + 60, pause=0.02) as load:
        rel.apply(_crashing(15, hold_seconds=120))
        wait_for("the switch to the candidate", lambda: len(watcher.selected) >= 2, TIMEOUT)
        switched = watcher.selected_at[1]
        v2 = watcher.selected[1]
        wait_for("the first crash", lambda: _restarts(k, chaos.namespace, v2) > 0, 60, 0.1)
        crashed = time.monotonic()
        rel.wait_phase("RolledBack", timeout=TIMEOUT)
        samples = load.stop()
    violations = watcher.close()
    print(f"[crash loop] events: {rel.k.json('get', 'events', '-n', chaos.namespace)}")
    print(f"[crash loop] status: {rel.status()}")
    assert watcher.selected == [v1, v2, v1], watcher.selected
    back = watcher.selected_at[2]
    assert _serving(rel) == v1
    assert violations == [], violations
    failed = [s for s in samples if not s.ok]
    late = [s for s in failed if s.start > back + 2.0]
    print(
        f"[crash loop] in hold: sent={len(samples)} failed={len(failed)}; switched, first "
        f"crash seen {crashed - switched:.1f}s later, back on v1 {back - crashed:+.1f}s after it"
    )
    # Requests may fail only while killed pods were selected: none once v1 is back.
    assert late == [], [(round(s.start - back, 2), s.error) for s in late[:5]]
    assert back - crashed < 10, "the rollback must follow the first crash at once"
