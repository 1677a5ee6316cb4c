"""The last look before a switch: a Deployment that may not take traffic is refused."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.reconciler.execute import _not_switchable

UID = "release-uid"


def deployment(**changes: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": "shop-aaa",
        "ownerReferences": [{"controller": True, "uid": UID, "kind": "BlueGreenRelease"}],
        "annotations": {"deployment.kubernetes.io/revision": "1"},
    }
    meta.update(changes.pop("meta", {}))
    body: dict[str, Any] = {
        "metadata": meta,
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 3},
    }
    body.update(changes)
    return body


def test_a_ready_deployment_of_ours_may_take_traffic() -> None:
    assert _not_switchable(deployment(), UID) == ""


@pytest.mark.parametrize(
    ("live", "why"),
    [
        (None, "gone"),
        (deployment(meta={"ownerReferences": []}), "not controlled"),
        (deployment(meta={"deletionTimestamp": "2026-12-01T00:00:00Z"}), "being deleted"),
        (
            deployment(meta={"annotations": {"deployment.kubernetes.io/revision": "2"}}),
            "template was changed",
        ),
        (deployment(status={"readyReplicas": 2}), "2/3 replicas ready"),
        (deployment(spec={"replicas": 0}, status={}), "0/0"),
    ],
)
def test_anything_else_is_refused_with_the_reason(live: Any, why: str) -> None:
    assert why in _not_switchable(live, UID)
