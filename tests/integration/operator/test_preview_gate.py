"""The preview gate on the real API server: a pod of another owner carrying the
candidate's labels keeps the preview Service from reaching the candidate alone.
Smoke checks through it wait, at most the switch timeout, and then the candidate
fails with PreviewNotSettled; no check ran and no traffic moved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen.api.enums import CheckStage
from bluegreen.core.revision import compute_revision
from tests.conftest import Cluster
from tests.integration.conftest import started_operator
from tests.integration.harness import Kubectl, Operator, Release, release, wait_for

NAME = "gated"
SWITCH_TIMEOUT = 15


@pytest.fixture
def short_timeout_operator(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    log = tmp_path / "operator.log"
    process = started_operator(cluster, namespace, log, "--switch-timeout", str(SWITCH_TIMEOUT))
    yield process
    process.kill()
    print(log.read_text()[-3000:])


def look_alike_pod(namespace: str, revision: str) -> dict[str, Any]:
    """A bare pod, nobody's ReplicaSet, with the labels the preview selects."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "look-alike",
            "namespace": namespace,
            "labels": {"bluegreen.dev/release": NAME, "bluegreen.dev/revision": revision},
        },
        "spec": {"containers": [{"name": "app", "image": "spacelift-app:other"}]},
    }


def pod_ready(k: Kubectl, namespace: str, name: str) -> bool:
    pod = k.json("get", "pod", name, "-n", namespace) or {}
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_a_look_alike_pod_in_the_preview_fails_the_candidate_without_a_check(
    k: Kubectl, namespace: str, short_timeout_operator: Operator
) -> None:
    body = release(
        NAME,
        "v1",
        "",
        "V1",
        replicas=1,
        hold=0,
        # No URL: the check goes through the preview Service.
        smoke=[{"name": "home", "http": {"path": "/", "expectBody": "V1"}}],
    )
    revision = compute_revision(body["spec"]["template"])
    k.apply(look_alike_pod(namespace, revision))
    wait_for("the look-alike pod ready", lambda: pod_ready(k, namespace, "look-alike"), 60)

    rel = Release(k, namespace, NAME)
    rel.apply(body)
    wait_for(
        "smoke checks held while the preview also reaches the look-alike",
        lambda: (
            rel.status().get("message") == "waiting for the preview Service to reach "
            "the candidate alone"
        ),
        timeout=60,
    )
    assert rel.selector(f"{NAME}-preview") == {
        "bluegreen.dev/release": NAME,
        "bluegreen.dev/revision": revision,
    }

    stalled = rel.wait_condition("Stalled", timeout=SWITCH_TIMEOUT + 60)
    assert stalled["reason"] == "PreviewNotSettled", stalled
    assert "no smoke check ran" in stalled["message"], stalled
    assert "1 others" in stalled["message"], "the look-alike's endpoint is named in the count"
    checks_passed = rel.condition("ChecksPassed")
    assert (checks_passed["status"], checks_passed["reason"]) == ("False", "PreviewNotSettled")
    assert "PreviewNotSettled" in rel.events()
    status = rel.status()
    assert not [c for c in status.get("checks") or [] if c.get("stage") == CheckStage.SMOKE], (
        "no smoke check ran"
    )
    assert rel.selector() != rel.selector(f"{NAME}-preview"), "the stable Service never moved"
    assert not status.get("active"), "nothing serves: the only candidate failed"
    # The look-alike is not ours: left as it was.
    assert pod_ready(k, namespace, "look-alike")
