"""A release as the operator leaves it after two releases, and the Events it posted."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
UID = "uid-shop"
V1, V2 = "aaaa111111", "bbbb222222"


def release(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenRelease",
        "metadata": {
            "name": "shop",
            "namespace": "shop",
            "uid": UID,
            "generation": 2,
            "creationTimestamp": "2026-11-26T11:00:00Z",
        },
        "status": {"observedGeneration": 2, **copy.deepcopy(status)},
    }


def event(
    reason: str,
    at: str,
    message: str = "",
    *,
    warning: bool = False,
    name: str = "shop",
    namespace: str = "shop",
    uid: str = UID,
) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{name}.{reason}.{at}", "namespace": namespace, "uid": f"e-{at}"},
        "involvedObject": {
            "apiVersion": "bluegreen.dev/v1alpha1",
            "kind": "BlueGreenRelease",
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
        "type": "Warning" if warning else "Normal",
        "reason": reason,
        "message": message,
        "lastTimestamp": f"2026-11-26T{at}Z",
        "count": 1,
    }


FIRST = {
    "revision": V1,
    "image": "shop:v1",
    "startedAt": "2026-11-26T11:00:00Z",
    "finishedAt": "2026-11-26T11:00:20Z",
    "outcome": "Promoted",
}
SECOND = {
    "revision": V2,
    "image": "shop:v2",
    "startedAt": "2026-11-26T11:50:00Z",
    "finishedAt": "2026-11-26T11:51:00Z",
    "outcome": "Promoted",
}


def holding() -> dict[str, Any]:
    """v2 switched at 11:51 and held until 12:01; v1 kept warm."""
    return release(
        phase="Holding",
        revision=V2,
        message=f"Holding previous revision {V1}",
        active={
            "revision": V2,
            "deployment": f"shop-{V2}",
            "image": "shop:v2",
            "replicas": 2,
            "readyReplicas": 2,
            "switchedAt": "2026-11-26T11:51:02Z",
        },
        previous={
            "revision": V1,
            "deployment": f"shop-{V1}",
            "image": "shop:v1",
            "deleteAfter": "2026-11-26T12:01:00Z",
        },
        checks=[
            {
                "name": "home",
                "stage": "smoke",
                "kind": "http",
                "revision": V2,
                "phase": "Passed",
                "attempts": 1,
                "message": "200 OK",
                "time": "2026-11-26T11:50:40Z",
            },
            {
                "name": "still-healthy",
                "stage": "hold",
                "kind": "http",
                "revision": V2,
                "phase": "Passed",
                "attempts": 1,
                "time": "2026-11-26T11:59:00Z",
            },
        ],
        history=[copy.deepcopy(FIRST), copy.deepcopy(SECOND)],
        conditions=[
            {"type": "Ready", "status": "False", "reason": "Holding", "message": "hold"},
            {"type": "Reconciling", "status": "True", "reason": "Holding", "message": ""},
        ],
    )


def two_releases_events() -> list[dict[str, Any]]:
    return [
        event("CandidateCreated", "11:00:00", f"deploying shop-{V1} (shop:v1)"),
        event("CandidateReady", "11:00:10", f"shop-{V1} is available"),
        event("TrafficSwitched", "11:00:21", f"stable Service shop reaches only {V1}"),
        event("CandidateCreated", "11:50:00", f"deploying shop-{V2} (shop:v2)"),
        event("CandidateReady", "11:50:30", f"shop-{V2} is available"),
        event("TrafficSwitched", "11:51:02", f"stable Service shop reaches only {V2}"),
    ]
