"""Terraform's own faults under the elected operator: a crash mid-apply and a hang
(their lock left behind), a lock left by a dead run before the release starts, a
state Secret deleted by hand, the provider failing (the API server refuses its
writes). The release ends as a fault-free one does, the invariants hold
throughout, and the state exists again at the end."""

from __future__ import annotations

import json
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bluegreen.core import names
from tests.chaos.conftest import FULL, STATE_NAMESPACE, Chaos
from tests.chaos.faults import signal_processes_under
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


# A crash or hang mid-apply recovers only once the dead run's lock is provably stale
# (the run timeout plus the kill grace, 80 s here), a failing provider at the next
# retry (60 s): the full matrix only (`make chaos`).
FAULTS = (
    ["terraform-crash", "terraform-hang", "provider-failing", "lock-held", "state-deleted"]
    if FULL
    else ["lock-held", "state-deleted"]
)
TERRAFORM_RECOVER_TIMEOUT = 300


def _leave_dead_lock(k: Kubectl, namespace: str) -> None:
    """The lock Lease a run killed ten minutes ago leaves, as Terraform writes it."""
    key = names.state_key(namespace, NAME)
    lock_id = str(uuid.uuid4())
    created = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    info = {
        "ID": lock_id,
        "Operation": "OperationTypeApply",
        "Who": "root@gone",
        "Created": created,
    }
    k.apply(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": f"lock-tfstate-default-{key}",
                "namespace": STATE_NAMESPACE,
                "annotations": {"app.terraform.io/lock-info": json.dumps(info)},
                "labels": {"app.kubernetes.io/managed-by": "terraform", "tfstateSecretSuffix": key},
            },
            "spec": {"holderIdentity": lock_id},
        }
    )


def _refuse_services(k: Kubectl, namespace: str) -> None:
    """A quota of zero Services: every create the provider sends is refused."""
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "no-services", "namespace": namespace},
            "spec": {"hard": {"services": "0"}},
        }
    )


def _infrastructure_failed(rel: Release) -> bool:
    return rel.condition("InfrastructureReady").get("status") == "False"


@pytest.mark.parametrize("chaos", ["terraform"], indirect=True)
@pytest.mark.parametrize("fault", FAULTS)
def test_terraform_faults_change_no_outcome(
    k: Kubectl, chaos: Chaos, apps: dict[str, App], fault: str
) -> None:
    watcher = InvariantWatcher(chaos.api, chaos.namespace, NAME).start()
    rel = Release(k, chaos.namespace, NAME)
    phase, final = "Provisioning", "v1"
    try:
        if fault == "lock-held":
            _leave_dead_lock(k, chaos.namespace)
        if fault == "provider-failing":
            _refuse_services(k, chaos.namespace)
        rel.apply(_body("v1", apps["v1"]))
        injected = time.monotonic()
        if fault in ("terraform-crash", "terraform-hang"):
            wait_for("Terraform holding its lock", lambda: _lock(k, chaos.namespace), 90, 0.05)
            injected = time.monotonic()
            sig = signal.SIGKILL if fault == "terraform-crash" else signal.SIGSTOP
            assert signal_processes_under(chaos.workdir, sig) >= 1, "no Terraform process"
        elif fault == "provider-failing":
            wait_for("the apply to fail", lambda: _infrastructure_failed(rel), 120, 0.5)
            k.run("delete", "resourcequota", "no-services", "-n", chaos.namespace)
        elif fault == "state-deleted":
            phase, final = "Holding", "v2"
            wait_until("v1 released", lambda: _at_end(rel, "v1"), RECOVER_TIMEOUT)
            rel.apply(_body("v2", apps["v2"]))
            wait_until("the hold", lambda: rel.status().get("phase") == "Holding", 90)
            injected = time.monotonic()
            key = names.state_key(chaos.namespace, NAME)
            k.run("delete", "secret", f"tfstate-default-{key}", "-n", STATE_NAMESPACE)
        wait_until(f"{final} released", lambda: _at_end(rel, final), TERRAFORM_RECOVER_TIMEOUT)
        wait_until("the state written again", lambda: _state(k, chaos.namespace), 60)
        recovered = time.monotonic() - injected
    finally:
        violations = watcher.close()
    _record(fault, phase, phase, violations, recovered, chaos.supervisor.restarts)
    # For lock-held, the release's first apply itself proves the dead lock was broken.
    assert violations == [], violations
