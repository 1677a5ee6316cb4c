"""Watch what releases own, and wake the owning release at once on any change."""

from __future__ import annotations

from typing import Any

import kopf

from bluegreen.api.v1alpha1 import MANAGED_BY_LABEL, MANAGED_BY_VALUE, RELEASE_LABEL
from bluegreen.handlers.deps import Dependencies

MANAGED: dict[str, Any] = {
    MANAGED_BY_LABEL: MANAGED_BY_VALUE,
    RELEASE_LABEL: kopf.PRESENT,
}


def _wake_owner(namespace: str | None, labels: kopf.Labels, memo: kopf.Memo) -> None:
    deps: Dependencies | None = memo.get("deps")
    release = labels.get(RELEASE_LABEL)
    if deps is not None and namespace and release:
        deps.wakeups.wake(namespace, release)


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED)
async def deployment_changed(
    namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    _wake_owner(namespace, labels, memo)


@kopf.on.event("", "v1", "pods", labels=MANAGED)
async def pod_changed(
    namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    _wake_owner(namespace, labels, memo)


@kopf.on.event("batch", "v1", "jobs", labels=MANAGED)
async def job_changed(
    namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    _wake_owner(namespace, labels, memo)


@kopf.on.event(
    "discovery.k8s.io", "v1", "endpointslices", labels={"kubernetes.io/service-name": kopf.PRESENT}
)
async def endpoints_changed(
    namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    deps: Dependencies | None = memo.get("deps")
    service = labels.get("kubernetes.io/service-name")
    if deps is not None and namespace and service:
        deps.wakeups.wake_for_service(namespace, service)
