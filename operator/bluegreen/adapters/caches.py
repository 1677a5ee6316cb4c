"""The watch caches the operator observes from: what each holds and how it is slimmed.

Every cache selects on the server: only objects carrying the operator's
managed-by label and a release label reach the process. EndpointSlices qualify
because the EndpointSlice controller copies a Service's labels onto its slices,
so the slices of the Services we own carry our labels too. Objects are slimmed
to the fields ``reconciler.observe`` reads, which keeps a thousand releases'
pods in a few MiB.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from bluegreen.adapters.kube_rest import JSON, KubeRest
from bluegreen.adapters.watch_cache import CacheSet, CacheSpec, WatchCache
from bluegreen.api.v1alpha1 import (
    ADOPT_ANNOTATION,
    API_VERSION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLURAL,
    RELEASE_LABEL,
    STORAGE_PREFIX,
    TEMPLATE_REVISION_ANNOTATION,
)

OURS = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{RELEASE_LABEL}"
"""Server-side selector: managed by us and belonging to some release."""
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
KOPF_DIFFBASE_ANNOTATION = f"{STORAGE_PREFIX}/last-handled-configuration"
"""kopf's copy of the last handled spec: as large as the spec, and never read by us."""


def _meta(item: JSON, annotations: tuple[str, ...] = ()) -> JSON:
    meta = item.get("metadata") or {}
    kept: dict[str, Any] = {
        key: meta[key]
        for key in (
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "labels",
            "deletionTimestamp",
        )
        if key in meta
    }
    controllers = [
        {k: ref.get(k) for k in ("kind", "name", "uid", "controller")}
        for ref in meta.get("ownerReferences") or ()
        if ref.get("controller") is True
    ]
    if controllers:
        kept["ownerReferences"] = controllers
    found = {k: v for k, v in (meta.get("annotations") or {}).items() if k in annotations}
    if found:
        kept["annotations"] = found
    return kept


def slim_deployment(item: JSON) -> JSON:
    spec, status = item.get("spec") or {}, item.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    return {
        "metadata": _meta(item, (TEMPLATE_REVISION_ANNOTATION,)),
        "spec": {
            "replicas": spec.get("replicas", 1),
            "template": {"spec": {"containers": [{"image": containers[0].get("image", "")}]}},
        },
        "status": {
            k: status[k]
            for k in ("readyReplicas", "availableReplicas", "updatedReplicas", "observedGeneration")
            if k in status
        },
    }


def slim_pod(item: JSON) -> JSON:
    statuses = (item.get("status") or {}).get("containerStatuses") or []
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    return {"metadata": _meta(item), "status": {"containerStatuses": [{"restartCount": restarts}]}}


def slim_job(item: JSON) -> JSON:
    conditions = (item.get("status") or {}).get("conditions") or []
    return {
        "metadata": _meta(item),
        "status": {
            "conditions": [
                {k: c.get(k) for k in ("type", "status", "reason", "message")} for c in conditions
            ]
        },
    }


def slim_service(item: JSON) -> JSON:
    spec = item.get("spec") or {}
    kept = {k: spec[k] for k in ("selector", "clusterIP") if k in spec}
    kept["ports"] = [{"port": p.get("port")} for p in (spec.get("ports") or [])[:1]]
    return {"metadata": _meta(item, (ADOPT_ANNOTATION,)), "spec": kept}


def slim_endpoint_slice(item: JSON) -> JSON:
    endpoints = [
        {
            "addresses": endpoint.get("addresses") or [],
            "conditions": {"ready": (endpoint.get("conditions") or {}).get("ready")},
            "targetRef": {k: (endpoint.get("targetRef") or {}).get(k) for k in ("kind", "name")},
        }
        for endpoint in item.get("endpoints") or []
    ]
    return {"metadata": _meta(item), "endpoints": endpoints}


def slim_release(item: JSON) -> JSON:
    """The release as the reconciler reads it, without managedFields and kopf's copy of it."""
    meta = dict(item.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k != KOPF_DIFFBASE_ANNOTATION
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return {**item, "metadata": meta}


def _label(key: str) -> Callable[[JSON], str | None]:
    def index(item: JSON) -> str | None:
        value = ((item.get("metadata") or {}).get("labels") or {}).get(key)
        return str(value) if value else None

    return index


def _name(item: JSON) -> str | None:
    return str((item.get("metadata") or {}).get("name") or "") or None


RELEASES = CacheSpec(f"apis/{API_VERSION}/{PLURAL}", "", _name, slim_release)
DEPLOYMENTS = CacheSpec("apis/apps/v1/deployments", OURS, _label(RELEASE_LABEL), slim_deployment)
PODS = CacheSpec("api/v1/pods", OURS, _label(RELEASE_LABEL), slim_pod)
JOBS = CacheSpec("apis/batch/v1/jobs", OURS, _label(RELEASE_LABEL), slim_job)
SERVICES = CacheSpec("api/v1/services", OURS, _name, slim_service)
ENDPOINT_SLICES = CacheSpec(
    "apis/discovery.k8s.io/v1/endpointslices", OURS, _label(SERVICE_NAME_LABEL), slim_endpoint_slice
)


CACHED_KINDS = (RELEASES, DEPLOYMENTS, PODS, JOBS, SERVICES, ENDPOINT_SLICES)


class Caches:
    """One cache per kind the reconciler observes, sharing one start and one stop."""

    def __init__(
        self,
        rest: KubeRest,
        namespaces: tuple[str, ...] = (),
        keep: Callable[[str], bool] = lambda namespace: True,
    ) -> None:
        self.rest = rest

        def cache(spec: CacheSpec) -> WatchCache:
            return WatchCache(rest, spec, namespaces, keep=keep)

        self.releases = cache(RELEASES)
        self.deployments = cache(DEPLOYMENTS)
        self.pods = cache(PODS)
        self.jobs = cache(JOBS)
        self.services = cache(SERVICES)
        self.endpoint_slices = cache(ENDPOINT_SLICES)
        self.all = CacheSet(
            [
                self.releases,
                self.deployments,
                self.pods,
                self.jobs,
                self.services,
                self.endpoint_slices,
            ]
        )

    async def close(self) -> None:
        """Stop every watch and close their client."""
        await self.all.stop()
        await self.rest.api.close()

    def notify(self, on_change: Callable[[str, JSON], None]) -> None:
        """Tell ``on_change(kind, object)`` of every object a watch delivers."""
        kinds = {self.releases: "release"}
        for cache in self.all.caches:
            kind = kinds.get(cache, cache.spec.kind.rsplit("/", 1)[1])
            cache.on_change = functools.partial(on_change, kind)

    def sizes(self) -> dict[str, int]:
        return {cache.spec.kind.rsplit("/", 1)[1]: len(cache) for cache in self.all.caches}
