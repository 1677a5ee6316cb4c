"""Sample BlueGreenRelease objects shared by the plugin tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def holding() -> dict[str, Any]:
    """A release in its hold: v2 serves, v1 kept for 9m30s more."""
    return copy.deepcopy(
        {
            "apiVersion": "bluegreen.dev/v1alpha1",
            "kind": "BlueGreenRelease",
            "metadata": {
                "name": "shop",
                "namespace": "shop",
                "generation": 7,
                "resourceVersion": "100",
            },
            "status": {
                "observedGeneration": 7,
                "phase": "Holding",
                "revision": "5d8f9c2a1b",
                "message": "Holding previous revision 91ab23cd45",
                "active": {
                    "revision": "5d8f9c2a1b",
                    "deployment": "shop-5d8f9c2a1b",
                    "image": "shop:v2",
                    "replicas": 3,
                    "readyReplicas": 3,
                    "switchedAt": "2026-11-26T11:56:00Z",
                },
                "previous": {
                    "revision": "91ab23cd45",
                    "deployment": "shop-91ab23cd45",
                    "image": "shop:v1",
                    "deleteAfter": "2026-11-26T12:09:30Z",
                },
                "checks": [
                    {
                        "name": "home",
                        "stage": "smoke",
                        "kind": "http",
                        "phase": "Passed",
                        "attempts": 1,
                        "message": "200 OK",
                        "time": "2026-11-26T11:58:00Z",
                    },
                    {
                        "name": "e2e",
                        "stage": "hold",
                        "kind": "job",
                        "phase": "Running",
                        "attempts": 2,
                        "message": "",
                        "time": "2026-11-26T11:59:45Z",
                    },
                ],
                "infrastructure": {
                    "applied": True,
                    "inputsHash": "0123456789abcdef0123",
                    "lastApplyTime": "2026-11-26T11:00:00Z",
                    "drift": False,
                    "outputs": {},
                },
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "Holding",
                        "message": "Hold ends in 9m30s",
                        "lastTransitionTime": "2026-11-26T11:59:30Z",
                        "observedGeneration": 7,
                    },
                    {
                        "type": "Reconciling",
                        "status": "True",
                        "reason": "Holding",
                        "message": "",
                        "lastTransitionTime": "2026-11-26T11:55:00Z",
                        "observedGeneration": 7,
                    },
                ],
                "history": [
                    {
                        "revision": "91ab23cd45",
                        "image": "shop:v1",
                        "startedAt": "2026-11-25T12:00:00Z",
                        "finishedAt": "2026-11-25T12:04:05Z",
                        "outcome": "Complete",
                    },
                    {
                        "revision": "5d8f9c2a1b",
                        "image": "shop:v2",
                        "startedAt": "2026-11-26T11:55:00Z",
                    },
                ],
                "lastAction": {
                    "action": "promote",
                    "revision": "5d8f9c2a1b",
                    "time": "2026-11-26T11:59:00Z",
                    "result": "Accepted",
                },
            },
        }
    )


def with_status(obj: dict[str, Any], **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["status"].update(fields)
    return obj


def with_condition(
    obj: dict[str, Any], type_: str, status: str, message: str = ""
) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    conditions = [c for c in obj["status"].get("conditions", []) if c["type"] != type_]
    conditions.append({"type": type_, "status": status, "reason": "Test", "message": message})
    obj["status"]["conditions"] = conditions
    return obj


def deployment(revision: str, ready: int, replicas: int = 3) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"shop-{revision}",
            "namespace": "shop",
            "uid": f"uid-d-{revision}",
            "creationTimestamp": "2026-11-26T11:55:00Z",
            "labels": {"bluegreen.dev/release": "shop", "bluegreen.dev/revision": revision},
        },
        "spec": {"replicas": replicas},
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": replicas,
            "availableReplicas": ready,
        },
    }


def pod(revision: str, suffix: str, *, ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    waiting = {} if ready else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "metadata": {
            "name": f"shop-{revision}-{suffix}",
            "namespace": "shop",
            "uid": f"uid-p-{revision}-{suffix}",
            "creationTimestamp": "2026-11-26T11:56:00Z",
            "labels": {"bluegreen.dev/release": "shop", "bluegreen.dev/revision": revision},
        },
        "spec": {"nodeName": "kwok-node-0"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"restartCount": restarts, "state": waiting or {"running": {}}}],
        },
    }


def job(revision: str, check: str, outcome: str = "") -> dict[str, Any]:
    conditions = [{"type": outcome, "status": "True"}] if outcome else []
    return {
        "metadata": {
            "name": f"shop-{revision}-{check}-1",
            "namespace": "shop",
            "uid": f"uid-j-{revision}-{check}",
            "creationTimestamp": "2026-11-26T11:59:00Z",
            "labels": {
                "bluegreen.dev/release": "shop",
                "bluegreen.dev/revision": revision,
                "bluegreen.dev/check": check,
            },
        },
        "status": {"active": 0 if outcome else 1, "conditions": conditions},
    }
