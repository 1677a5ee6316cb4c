"""An overloaded or failing API server: slow answers, 429s and 500s, in a phase.

Both replicas reach the API server only through ``api_proxy.ApiFaultProxy``.
When the phase is seen, the proxy answers a share of the requests itself with
429 or 500 and slows every request, for ``FAULT_SECONDS``; then it heals. The
release must end as a fault-free one does, with no invariant broken meanwhile.
"""

from __future__ import annotations

import time

import pytest

from tests.chaos.conftest import FULL, Chaos
from tests.chaos.test_fault_matrix import (
    NAME,
    PHASES,
    RECOVER_TIMEOUT,
    _at_end,
    _body,
    _current_phase,
    _phases_since,
    _reached,
    _record,
)
from tests.chaos.watcher import InvariantWatcher, wait_until
from tests.integration.harness import App, Kubectl, Release

FAULT_SECONDS = 20.0
FAULTS = {"api-errors": (0.3, 0.05), "api-slow": (0.0, 1.0)}
"""share of requests answered 429/500, and seconds every request waits."""
SHORT = [("api-errors", "Verifying"), ("api-slow", "Holding")]
MATRIX = [(f, p) for f in FAULTS for p in PHASES] if FULL else SHORT


@pytest.mark.parametrize("chaos", ["api-proxy"], indirect=True)
@pytest.mark.parametrize(("fault", "phase"), MATRIX)
def test_a_failing_api_server_breaks_no_invariant_and_changes_no_outcome(
    k: Kubectl, chaos: Chaos, apps: dict[str, App], fault: str, phase: str
) -> None:
    proxy = chaos.api_proxy
    assert proxy is not None
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
        proxy.fail(*FAULTS[fault])
        try:
            time.sleep(FAULT_SECONDS)  # the fault's duration is the test's input
        finally:
            proxy.heal()
        wait_until(f"{final} released", lambda: _at_end(rel, final), RECOVER_TIMEOUT)
        recovered = time.monotonic() - injected
    finally:
        violations = watcher.close()
    _record(fault, phase, seen, violations, recovered, chaos.supervisor.restarts)
    assert violations == [], violations
    if fault == "api-errors":
        assert sum(proxy.injected.values()) > 0, "the fault reached the operator"
