"""The Argo CD health script, run for real in Lua 5.1 (Argo CD's dialect) and 5.4, with
only the libraries Argo CD opens."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from argocd_lua import RUNTIMES, run

SCRIPT = (Path(__file__).resolve().parents[3] / "manifests" / "argocd" / "health.lua").read_text()


def health(obj: Mapping[str, Any], module: str = "lupa.lua51") -> tuple[str, str]:
    # In Argo CD's sandbox: no string or math library (see argocd_lua).
    result = run(SCRIPT, obj, module)
    return str(result["status"]), str(result["message"])


def cond(type_: str, status: str, message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": "Test", "message": message}


def release(
    generation: int = 3, status: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenRelease",
        "metadata": {"name": "shop", "namespace": "shop", "generation": generation},
        "spec": {"replicas": 3},
    }
    if status is not None:
        obj["status"] = {"observedGeneration": generation, **status, **fields}
    return obj


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "no status yet",
        release(),
        "Progressing",
        "Waiting for the operator to observe the release",
    ),
    (
        "stale observedGeneration hides an old success",
        {
            **release(generation=4),
            "status": {
                "observedGeneration": 3,
                "phase": "Complete",
                "conditions": [cond("Ready", "True", "Revision a serves all traffic")],
            },
        },
        "Progressing",
        "Waiting for the operator to observe generation 4",
    ),
    (
        "stale observedGeneration hides an old failure",
        {
            **release(generation=4),
            "status": {
                "observedGeneration": 3,
                "phase": "Failed",
                "conditions": [cond("Stalled", "True", "old spec failed")],
            },
        },
        "Progressing",
        "Waiting for the operator to observe generation 4",
    ),
    (
        "observedGeneration missing",
        {**release(), "status": {"phase": "Complete"}},
        "Progressing",
        "Waiting for the operator to observe generation 3",
    ),
    (
        "ready and current",
        release(
            status={
                "phase": "Complete",
                "conditions": [
                    cond("Ready", "True", "Revision 5d8f9c2a1b serves all traffic"),
                    cond("Stalled", "False"),
                    cond("Reconciling", "False"),
                ],
            }
        ),
        "Healthy",
        "Revision 5d8f9c2a1b serves all traffic",
    ),
    (
        "ready without a message falls back to the phase",
        release(status={"phase": "Complete", "conditions": [cond("Ready", "True")]}),
        "Healthy",
        "Phase Complete",
    ),
    (
        "phase Failed",
        release(
            status={
                "phase": "Failed",
                "conditions": [cond("Ready", "False", "candidate not ready after 600s")],
            }
        ),
        "Degraded",
        "candidate not ready after 600s",
    ),
    (
        "phase RolledBack without conditions",
        release(status={"phase": "RolledBack"}),
        "Degraded",
        "Phase RolledBack",
    ),
    (
        "Stalled=True wins over a Ready message",
        release(
            status={
                "phase": "Holding",
                "conditions": [
                    cond("Ready", "False", "holding"),
                    cond("Stalled", "True", "hold check home failed: 503"),
                ],
            }
        ),
        "Degraded",
        "hold check home failed: 503",
    ),
    (
        "Stalled=True even with Ready=True",
        release(
            status={
                "phase": "Complete",
                "conditions": [cond("Ready", "True", "ok"), cond("Stalled", "True", "bad spec")],
            }
        ),
        "Degraded",
        "bad spec",
    ),
    (
        "awaiting promotion",
        release(
            status={
                "phase": "AwaitingPromotion",
                "revision": "5d8f9c2a1b",
                "conditions": [cond("Ready", "False", ""), cond("Reconciling", "True", "gate")],
            }
        ),
        "Suspended",
        "Revision 5d8f9c2a1b awaits promotion",
    ),
    (
        "awaiting promotion with the operator's message",
        release(
            status={
                "phase": "AwaitingPromotion",
                "conditions": [cond("Ready", "False", "Waiting for approval of 5d8f")],
            }
        ),
        "Suspended",
        "Waiting for approval of 5d8f",
    ),
    (
        "in flight",
        release(
            status={
                "phase": "Verifying",
                "conditions": [
                    cond("Ready", "False", "smoke check home running"),
                    cond("Reconciling", "True", "verifying"),
                    cond("Stalled", "False"),
                ],
            }
        ),
        "Progressing",
        "smoke check home running",
    ),
    (
        "in flight, only Reconciling has a message",
        release(
            status={
                "phase": "Deploying",
                "conditions": [cond("Ready", "False"), cond("Reconciling", "True", "2/3 ready")],
            }
        ),
        "Progressing",
        "2/3 ready",
    ),
    (
        "current status with no conditions and no phase",
        release(status={}),
        "Progressing",
        "Phase unknown",
    ),
    (
        "Ready=Unknown while holding",
        release(status={"phase": "Holding", "conditions": [cond("Ready", "Unknown")]}),
        "Progressing",
        "Phase Holding",
    ),
]


@pytest.mark.parametrize("module", RUNTIMES)
@pytest.mark.parametrize(
    ("obj", "expected_status", "expected_message"),
    [pytest.param(obj, s, m, id=name) for name, obj, s, m in CASES],
)
def test_health(
    module: str, obj: dict[str, Any], expected_status: str, expected_message: str
) -> None:
    assert health(obj, module) == (expected_status, expected_message)


def test_every_argo_status_is_reachable() -> None:
    # Guards the table above: dropping a case must not silently drop an outcome.
    assert {s for _, _, s, _ in CASES} == {"Healthy", "Progressing", "Degraded", "Suspended"}
