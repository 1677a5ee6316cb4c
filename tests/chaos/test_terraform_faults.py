"""Terraform's own faults under the elected operator: a crash mid-apply (its lock left
behind), a state Secret deleted by hand. The release ends as a fault-free one does,
the invariants hold throughout, and the state exists again at the end."""

from __future__ import annotations

import time

import pytest

from bluegreen.core import names
from tests.chaos.conftest import FULL, STATE_NAMESPACE, Chaos
from tests.chaos.faults import kill_processes_under
from tests.chaos.test_fault_matrix import NAME, RECOVER_TIMEOUT, _at_end, _body, _record
from tests.chaos.watcher import InvariantWatcher, wait_until
from tests.integration.harness import App, Kubectl, Release, wait_for

pytestmark = pytest.mark.terraform


def _lock(k: Kubectl, namespace: str) -> bool:
    key = names.state_key(namespace, NAME)
    return bool(k.json("get", "lease", f"lock-tfstate-default-{key}", "-n", STATE_NAMESPACE))


def _state(k: Kubectl, namespace: str) -> bool:
    key = names.state_key(namespace, NAME)
    return bool(k.json("get", "secret", f"tfstate-default-{key}", "-n", STATE_NAMESPACE))


# A crash mid-apply recovers only once the dead run's lock is provably stale (the
# run timeout plus the kill grace, 80 s here): the full matrix only (`make chaos`).
FAULTS = ["terraform-crash", "state-deleted"] if FULL else ["state-deleted"]


@pytest.mark.parametrize("chaos", ["terraform"], indirect=True)
@pytest.mark.parametrize("fault", FAULTS)
def test_terraform_faults_change_no_outcome(
    k: Kubectl, chaos: Chaos, apps: dict[str, App], fault: str
) -> None:
    watcher = InvariantWatcher(chaos.api, chaos.namespace, NAME).start()
    rel = Release(k, chaos.namespace, NAME)
    try:
        rel.apply(_body("v1", apps["v1"]))
        if fault == "terraform-crash":
            phase = "Provisioning"
            wait_for("Terraform holding its lock", lambda: _lock(k, chaos.namespace), 90, 0.05)
            injected = time.monotonic()
            assert kill_processes_under(chaos.workdir) >= 1, "no Terraform process to crash"
            final = "v1"
        else:
            phase = "Holding"
            wait_until("v1 released", lambda: _at_end(rel, "v1"), RECOVER_TIMEOUT)
            rel.apply(_body("v2", apps["v2"]))
            wait_until("the hold", lambda: rel.status().get("phase") == "Holding", 90)
            injected = time.monotonic()
            key = names.state_key(chaos.namespace, NAME)
            k.run("delete", "secret", f"tfstate-default-{key}", "-n", STATE_NAMESPACE)
            final = "v2"
        wait_until(f"{final} released", lambda: _at_end(rel, final), RECOVER_TIMEOUT)
        wait_until("the state written again", lambda: _state(k, chaos.namespace), 60)
        recovered = time.monotonic() - injected
    finally:
        violations = watcher.close()
    _record(fault, phase, phase, violations, recovered, chaos.supervisor.restarts)
    assert violations == [], violations
