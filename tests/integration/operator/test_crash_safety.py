"""SIGKILL the operator at many instants of a release; a restart must reach the same end.

A watcher samples the stable Service and the Deployments the whole time and
checks DESIGN.md's invariants on every sample: the Service never selects a
revision short of ready pods, and never selects nothing once it has served.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "crashy"
JOB_CHECK = {
    "name": "e2e",
    "job": {
        "template": {
            "template": {
                "spec": {"containers": [{"name": "e2e", "image": "checker:1", "command": ["true"]}]}
            }
        },
        "timeoutSeconds": 60,
    },
}


class InvariantWatcher(threading.Thread):
    def __init__(self, k: Kubectl, namespace: str) -> None:
        super().__init__(daemon=True)
        self.k, self.ns = k, namespace
        self.stop = threading.Event()
        self.violations: list[str] = []
        self.selected: list[str] = []
        self.served = False

    def run(self) -> None:
        while not self.stop.is_set():
            svc = self.k.json("get", "svc", NAME, "-n", self.ns) or {}
            deployments = self.k.json("get", "deploy", "-n", self.ns) or {"items": []}
            self._check(svc, deployments["items"])
            time.sleep(0.05)

    def _check(self, svc: dict[str, Any], items: list[dict[str, Any]]) -> None:
        if not svc:
            return
        selector = svc.get("spec", {}).get("selector") or {}
        revision = selector.get("bluegreen.dev/revision")
        if not revision:
            if self.served:
                self.violations.append("stable Service selects nothing after serving")
            return
        self.served = True
        if not self.selected or self.selected[-1] != revision:
            self.selected.append(revision)
        by_rev = {d["metadata"]["labels"].get("bluegreen.dev/revision"): d for d in items}
        deployment = by_rev.get(revision)
        if deployment is None:
            self.violations.append(f"selected revision {revision} has no Deployment")
            return
        ready = (deployment.get("status") or {}).get("readyReplicas") or 0
        if ready < deployment["spec"]["replicas"]:
            self.violations.append(f"selected revision {revision} has {ready} ready pods")


@pytest.mark.parametrize("kill_after", [0.0, 0.4, 0.9, 1.6, 2.5, 4.0, 6.0])
def test_sigkill_at_any_instant_reaches_the_same_end_state(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App], kill_after: float
) -> None:
    def crash_instant(rel: Release) -> None:
        time.sleep(kill_after)  # the instant of the crash is the test's input, not a wait

    _release_with_a_crash(k, namespace, operator, apps, crash_instant)


@pytest.mark.parametrize("phase", ["Deploying", "Verifying", "Holding"])
def test_sigkill_in_each_phase_reaches_the_same_end_state(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App], phase: str
) -> None:
    def crash_in_phase(rel: Release) -> None:
        wait_for(f"phase {phase}", lambda: rel.status().get("phase") == phase, interval=0.02)

    _release_with_a_crash(k, namespace, operator, apps, crash_in_phase)


def _release_with_a_crash(
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    crash_point: Callable[[Release], None],
) -> None:
    rel = Release(k, namespace, NAME)
    http = {"name": "home", "http": {"url": apps["v1"].url, "expectBody": "V1"}}
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", hold=3, smoke=[http]))
    rel.wait_condition("Ready")
    v1 = rel.revision()
    watcher = InvariantWatcher(k, namespace)
    watcher.start()
    try:
        http2 = {"name": "home", "http": {"url": apps["v2"].url, "expectBody": "V2"}}
        rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=3, smoke=[http2, JOB_CHECK]))
        crash_point(rel)
        phase_at_kill = rel.status().get("phase")
        operator.kill(signal.SIGKILL)
        operator.start()
        wait_for(
            "v2 released after the crash",
            lambda: (
                rel.revision() != v1
                and rel.condition("Ready").get("status") == "True"
                and rel.status()["active"]["revision"] == rel.revision()
            ),
            timeout=90,
        )
        v2 = rel.revision()
        wait_for("only v2 left", lambda: set(rel.deployments()) == {v2})
    finally:
        watcher.stop.set()
        watcher.join(timeout=5)
    assert not watcher.violations, f"killed in {phase_at_kill}: {watcher.violations[:5]}"
    assert watcher.selected == [v1, v2], f"killed in {phase_at_kill}: flapped {watcher.selected}"
    assert rel.selector()["bluegreen.dev/revision"] == v2
    status = rel.status()
    assert status["phase"] == "Complete"
    assert [h["outcome"] for h in status["history"]] == ["Promoted", "Promoted"]
    passed = {c["name"] for c in status["checks"] if c["revision"] == v2 and c["phase"] == "Passed"}
    assert passed == {"home", "e2e"}, "switched only after every smoke check passed"
