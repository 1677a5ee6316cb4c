"""The project's KWOK stages (hack/kwok/) give tests pods that misbehave on purpose."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

pytestmark = pytest.mark.cluster


def pod(name: str, labels: dict[str, str]) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="app", image="registry.invalid/app:v1")]
        ),
    )


def condition(p: client.V1Pod, kind: str) -> str | None:
    return next((c.status for c in p.status.conditions or [] if c.type == kind), None)


def job(name: str, labels: dict[str, str]) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="check", image="registry.invalid/c:1")],
                ),
            ),
        ),
    )


def job_condition(j: client.V1Job, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in j.status.conditions or [])


def test_plain_pod_becomes_ready_and_never_ready_pod_does_not(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod("healthy", {"app": "x"}))
    core.create_namespaced_pod(
        namespace, pod("stuck", {"app": "x", "test.bluegreen.dev/never-ready": "true"})
    )

    wait_until(
        "pod healthy to be Ready",
        lambda: condition(core.read_namespaced_pod("healthy", namespace), "Ready") == "True",
    )
    stuck = wait_until(
        "pod stuck to be Running",
        lambda: (p := core.read_namespaced_pod("stuck", namespace)).status.phase == "Running" and p,
    )
    assert condition(stuck, "Ready") == "False"
    assert stuck.status.container_statuses[0].state.running is not None
    assert stuck.status.pod_ip

    # Still not Ready for a while after the healthy pod turned Ready: watched
    # over a window, failing at once if it ever flips.
    window_end = time.monotonic() + 3
    while time.monotonic() < window_end:
        assert condition(core.read_namespaced_pod("stuck", namespace), "Ready") == "False"
        time.sleep(0.25)


def test_crashloop_pod_restarts_and_never_becomes_ready(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod("crasher", {"test.bluegreen.dev/crashloop": "true"}))

    def restarts() -> int:
        p = core.read_namespaced_pod("crasher", namespace)
        assert condition(p, "Ready") != "True"
        statuses = p.status.container_statuses or []
        return statuses[0].restart_count if statuses else 0

    wait_until(
        "the crash-looping container to restart at least 3 times",
        lambda: restarts() >= 3,
        timeout=60,
    )
    p = core.read_namespaced_pod("crasher", namespace)
    st = p.status.container_statuses[0]
    assert st.state.waiting.reason == "CrashLoopBackOff"
    assert st.last_state.terminated.exit_code == 1
    assert not st.ready


def test_job_pods_complete_or_fail_on_request(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    batch.create_namespaced_job(namespace, job("passes", {"check": "passes"}))
    batch.create_namespaced_job(
        namespace, job("fails", {"check": "fails", "test.bluegreen.dev/job-fail": "true"})
    )

    done = wait_until(
        "Job passes to complete",
        lambda: (
            job_condition(j := batch.read_namespaced_job("passes", namespace), "Complete") and j
        ),
    )
    assert done.status.succeeded == 1
    failed = wait_until(
        "Job fails to fail",
        lambda: job_condition(j := batch.read_namespaced_job("fails", namespace), "Failed") and j,
    )
    assert failed.status.failed == 1
    assert not failed.status.succeeded

    phases = {
        p.metadata.labels["check"]: p.status.phase
        for p in core.list_namespaced_pod(namespace).items
    }
    assert phases == {"passes": "Succeeded", "fails": "Failed"}


def test_pod_with_only_the_job_name_label_completes(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    core = client.CoreV1Api(api_client)
    p = pod("orphan-job-pod", {"batch.kubernetes.io/job-name": "gone"})
    p.spec.restart_policy = "Never"
    core.create_namespaced_pod(namespace, p)
    wait_until(
        "the job-labelled pod to succeed",
        lambda: core.read_namespaced_pod("orphan-job-pod", namespace).status.phase == "Succeeded",
    )
