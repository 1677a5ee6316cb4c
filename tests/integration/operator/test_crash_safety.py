"""SIGKILL the operator at many instants of a release; a restart must reach the same end.

A watcher follows the stable Service, the Deployments and the release through
watches (tests/chaos/watcher.py) and checks DESIGN.md's invariants on every
change: the Service never selects a revision short of ready pods, never
selects nothing once it has served, and Ready never claims more than is true.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
from kubernetes import config

from tests.chaos.watcher import InvariantWatcher
from tests.conftest import Cluster
from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for
from tests.integration.job_checks import job_check

NAME = "crashy"
JOB_CHECK = job_check("e2e")


@pytest.mark.parametrize("kill_after", [0.0, 0.4, 0.9, 1.6, 2.5, 4.0, 6.0])
def test_sigkill_at_any_instant_reaches_the_same_end_state(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    kill_after: float,
) -> None:
    def crash_instant(rel: Release, watcher: InvariantWatcher) -> None:
        time.sleep(kill_after)  # the instant of the crash is the test's input, not a wait

    _release_with_a_crash(cluster, k, namespace, operator, apps, crash_instant)


@pytest.mark.parametrize("phase", ["Deploying", "Verifying", "Holding"])
def test_sigkill_in_each_phase_reaches_the_same_end_state(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    phase: str,
) -> None:
    def crash_in_phase(rel: Release, watcher: InvariantWatcher) -> None:
        # The watcher sees every status write, a phase that lasts one write included.
        def entered() -> bool:
            with watcher.lock:
                phases = list(watcher.phases)
            return (
                phase in phases[phases.index("Complete") + 1 :] if "Complete" in phases else False
            )

        wait_for(f"phase {phase}", entered, interval=0.01)

    _release_with_a_crash(cluster, k, namespace, operator, apps, crash_in_phase)


def _release_with_a_crash(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    crash_point: Callable[[Release, InvariantWatcher], None],
) -> None:
    rel = Release(k, namespace, NAME)
    http = {"name": "home", "http": {"url": apps["v1"].url, "expectBody": "V1"}}
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", hold=3, smoke=[http]))
    rel.wait_condition("Ready")
    v1 = rel.revision()
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))  # type: ignore[no-untyped-call]
    watcher = InvariantWatcher(api, namespace, NAME).start()
    try:
        http2 = {"name": "home", "http": {"url": apps["v2"].url, "expectBody": "V2"}}
        rel.apply(release(NAME, "v2", apps["v2"].url, "V2", hold=3, smoke=[http2, JOB_CHECK]))
        crash_point(rel, watcher)
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
        violations = watcher.close()
        api.close()
    assert not violations, f"killed in {phase_at_kill}: {violations[:5]}"
    assert watcher.selected == [v1, v2], f"killed in {phase_at_kill}: flapped {watcher.selected}"
    assert rel.selector()["bluegreen.dev/revision"] == v2
    status = rel.status()
    assert status["phase"] == "Complete"
    assert [h["outcome"] for h in status["history"]] == ["Promoted", "Promoted"]
    passed = {c["name"] for c in status["checks"] if c["revision"] == v2 and c["phase"] == "Passed"}
    assert passed == {"home", "e2e"}, "switched only after every smoke check passed"
