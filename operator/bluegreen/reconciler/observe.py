"""Turn API objects into the plain ``Observed`` snapshot decide() reads."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bluegreen.adapters.caches import Caches
from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_rest import JSON
from bluegreen.adapters.shared_listing import ServiceSelector, SharedServiceListing
from bluegreen.api.enums import Phase
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION, REVISION_LABEL, TEMPLATE_REVISION_ANNOTATION
from bluegreen.core import names, ownership
from bluegreen.core.observed import DeploymentState, JobState, Observed, ServiceState
from bluegreen.core.revision import compute_revision


def service_names(spec: Mapping[str, Any]) -> tuple[str, str]:
    """Stable and preview Service names, tolerant of a spec that fails validation."""
    stable = str((spec.get("service") or {}).get("name") or "")
    preview = str((spec.get("previewService") or {}).get("name") or "")
    return stable, preview or (f"{stable}-preview" if stable else "")


Labels = tuple[tuple[str, str], ...]
EXPOSURE_RECHECK_SECONDS = 300.0
"""How long the exposure warning may lag a Service created after the revision deployed."""


class CacheObserver:
    """The ``ObservePort`` over the watch caches: a step costs the API server nothing.

    Reads that must be fresh still go to the API server, each for a reason:
    the stable/preview Service when the cache has none by that name (only our
    own Services are watched, and a foreign one must be seen to be refused);
    a Deployment name a create found taken (is it ours?); the namespace's
    Services when the pod labels change (and every ``exposure_seconds``) for
    the exposure warning, one list shared by the namespace's releases; and the
    EndpointSlices that would prove a switch, so a lagging cache can never
    confirm one.
    """

    def __init__(
        self, kube: Kube, caches: Caches, exposure_seconds: float = EXPOSURE_RECHECK_SECONDS
    ) -> None:
        self.kube, self.caches, self.exposure_seconds = kube, caches, exposure_seconds
        self.listing = SharedServiceListing(kube.services.list)
        self._exposure: dict[tuple[str, str], tuple[Labels, float, tuple[str, ...]]] = {}
        """(namespace, release) -> (template labels, when, the Services that selected them)."""

    async def observe(self, body: Mapping[str, Any]) -> Observed:
        await self.caches.all.wait_synced()
        meta = body["metadata"]
        namespace, release = str(meta["namespace"]), str(meta["name"])
        uid = str(meta.get("uid", ""))
        spec = body.get("spec") or {}
        stable_name, preview_name = service_names(spec)
        labeled = self.caches.deployments.indexed(namespace, release)
        ours = [d for d in labeled if _controlled(d, uid)]
        foreign = {d["metadata"]["name"] for d in labeled if not _controlled(d, uid)}
        desired = desired_revision(spec)
        wanted_name = names.deployment_name(release, desired) if desired else ""
        if wanted_name and all(d["metadata"]["name"] != wanted_name for d in ours):
            foreign |= await self._taken(namespace, wanted_name, uid)
        deployments = _deployments(ours)
        mine = owned_pods(self.caches.pods.indexed(namespace, release), deployments)
        deployments = with_restarts(deployments, mine)
        stable = await self._service(namespace, stable_name)
        preview = await self._service(namespace, preview_name)
        endpoints, unknown = await self._endpoints(namespace, stable_name, body, mine)
        preview_endpoints, preview_unknown = count_ready_endpoints(
            self.caches.endpoint_slices.indexed(namespace, preview_name) if preview_name else [],
            mine,
        )
        jobs = self.caches.jobs.indexed(namespace, release)
        annotations = meta.get("annotations") or {}
        return Observed(
            generation=int(meta.get("generation") or 0),
            deployments=deployments,
            stable=_service(stable_name, stable, release),
            preview=_service(preview_name, preview, release),
            stable_endpoints=endpoints,
            stable_unknown_endpoints=unknown,
            preview_endpoints=preview_endpoints,
            preview_unknown_endpoints=preview_unknown,
            jobs=_jobs([j for j in jobs if _controlled(j, uid)]),
            action=annotations.get(ACTION_ANNOTATION) or None,
            deleting=bool(meta.get("deletionTimestamp")),
            foreign_deployments=frozenset(foreign),
            foreign_jobs=frozenset(
                str(j["metadata"]["name"]) for j in jobs if not _controlled(j, uid)
            ),
            exposing_services=await self._exposing(
                namespace, release, desired, spec, {stable_name, preview_name}
            ),
        )

    async def _taken(self, namespace: str, name: str, uid: str) -> set[str]:
        """The name, if a Deployment that is not ours holds it.

        One without our labels is not in the cache: it is read by name, but only
        after a create of ours found the name taken (then the release stalls
        instead of creating again and again), not before every creation.
        """
        refused = self.kube.deployments.refused_names
        if (namespace, name) not in refused:
            return set()
        found = await self.kube.deployments.get(namespace, name)
        if found is None or _controlled(found, uid):
            refused.discard((namespace, name))  # gone, or ours after all: create again
            return set()
        return {name}

    async def _service(self, namespace: str, name: str) -> JSON | None:
        if not name:
            return None
        cached = self.caches.services.get(namespace, name)
        return cached if cached is not None else await self.kube.services.get(namespace, name)

    async def _endpoints(
        self, namespace: str, service: str, body: Mapping[str, Any], pods: list[JSON]
    ) -> tuple[dict[str, int], int]:
        if not service:
            return {}, 0
        endpoints, unknown = count_ready_endpoints(
            self.caches.endpoint_slices.indexed(namespace, service), pods
        )
        status = body.get("status") or {}
        active = str((status.get("active") or {}).get("revision") or "")
        if status.get("phase") == Phase.SWITCHING and not unknown and set(endpoints) == {active}:
            # The cache would prove the switch: prove it from the API server instead.
            fresh = await self.kube.endpoints.slices_for_service(namespace, service)
            return count_ready_endpoints(fresh, pods)
        return endpoints, unknown

    async def _exposing(
        self, namespace: str, release: str, revision: str, spec: Mapping[str, Any], own: set[str]
    ) -> tuple[str, ...]:
        """Services that also select the release's pods, listed again only when the pod
        labels other Services could select on change (a new revision's template labels;
        the revision label is a hash no other Service knows) or the last look is old."""
        if not revision:
            return ()
        template = spec.get("template") or {}
        labels = tuple(sorted(((template.get("metadata") or {}).get("labels") or {}).items()))
        key = (namespace, release)
        known = self._exposure.get(key)
        now = time.monotonic()
        if known is not None and known[0] == labels and now - known[1] < self.exposure_seconds:
            return known[2]
        listing = await self.listing.selectors(namespace)
        found = exposing_services(listing.services, release, revision, spec, exclude=own)
        # Aged from when the list was asked: a shared answer must not stretch the lag.
        self._exposure[key] = (labels, listing.asked_at, found)
        return found

    def forget(self, namespace: str, release: str) -> None:
        self._exposure.pop((namespace, release), None)


def desired_revision(spec: Mapping[str, Any]) -> str:
    template = spec.get("template")
    return compute_revision(template) if isinstance(template, Mapping) else ""


def _controlled(item: Mapping[str, Any], uid: str) -> bool:
    return ownership.controlled_by(item["metadata"].get("ownerReferences"), uid)


def owned_pods(pods: list[JSON], deployments: Mapping[str, DeploymentState]) -> list[JSON]:
    """Pods run by a ReplicaSet of one of our Deployments; look-alike pods are left out.

    Anyone may put our labels on a pod. Counting only pods whose controller is a
    ReplicaSet named after our Deployment of the same revision keeps them from being
    mistaken for a revision's endpoints (they then count as unknown, which blocks a
    switch confirmation instead of faking one).
    """
    result = []
    for pod in pods:
        meta = pod["metadata"]
        revision = (meta.get("labels") or {}).get(REVISION_LABEL, "")
        deployment = deployments.get(revision)
        if deployment is None:
            continue
        controllers = [
            ref
            for ref in meta.get("ownerReferences") or ()
            if ref.get("controller") is True and ref.get("kind") == "ReplicaSet"
        ]
        if any(str(ref.get("name", "")).startswith(f"{deployment.name}-") for ref in controllers):
            result.append(pod)
    return result


def with_restarts(
    deployments: Mapping[str, DeploymentState], pods: list[JSON]
) -> dict[str, DeploymentState]:
    """Each Deployment with the container restarts of its own pods summed."""
    restarts: dict[str, int] = {}
    for pod in pods:
        revision = (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        count = sum(int(s.get("restartCount") or 0) for s in statuses)
        restarts[revision] = restarts.get(revision, 0) + count
    return {r: replace(d, restarts=restarts.get(r, 0)) for r, d in deployments.items()}


def exposing_services(
    services: tuple[ServiceSelector, ...],
    release: str,
    revision: str,
    spec: Mapping[str, Any],
    exclude: set[str],
) -> tuple[str, ...]:
    """Services other than the release's own whose selector matches its pods' labels."""
    if not revision:
        return ()
    template = spec.get("template") or {}
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    labels = {**template_labels, **names.revision_labels(release, revision)}
    found = []
    for service in services:
        if service.name in exclude or not service.selector:
            continue
        if all(labels.get(key) == value for key, value in service.selector):
            found.append(service.name)
    return tuple(sorted(found))


def count_ready_endpoints(slices: list[JSON], pods: list[JSON]) -> tuple[dict[str, int], int]:
    """Ready endpoints per revision, and how many belong to no revision of ours."""
    revision_of = {
        p["metadata"]["name"]: (p["metadata"].get("labels") or {}).get(REVISION_LABEL) for p in pods
    }
    seen: set[str] = set()
    per_revision: dict[str, int] = {}
    unknown = 0
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.get("endpoints") or []:
            # The API says a missing "ready" means ready; terminating endpoints say False.
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            ref = endpoint.get("targetRef") or {}
            key = ref.get("name") or ",".join(endpoint.get("addresses") or [])
            if key in seen:
                continue
            seen.add(key)
            revision = revision_of.get(ref.get("name", "")) if ref.get("kind") == "Pod" else None
            if revision:
                per_revision[revision] = per_revision.get(revision, 0) + 1
            else:
                unknown += 1
    return per_revision, unknown


def _deployments(items: list[JSON]) -> dict[str, DeploymentState]:
    result: dict[str, DeploymentState] = {}
    for item in items:
        meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
        revision = (meta.get("labels") or {}).get(REVISION_LABEL)
        if not revision:
            continue
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        result[revision] = DeploymentState(
            name=meta["name"],
            revision=revision,
            image=str(containers[0].get("image", "")),
            replicas=int(spec.get("replicas", 1)),
            ready_replicas=int(status.get("readyReplicas") or 0),
            available_replicas=int(status.get("availableReplicas") or 0),
            updated_replicas=int(status.get("updatedReplicas") or 0),
            generation=int(meta.get("generation") or 1),
            observed_generation=int(status.get("observedGeneration") or 0),
            deleting=bool(meta.get("deletionTimestamp")),
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
            template_changed=(meta.get("annotations") or {}).get(TEMPLATE_REVISION_ANNOTATION, "1")
            != "1",
        )
    return result


def _service(name: str, item: JSON | None, release: str) -> ServiceState | None:
    if not name:
        return None
    if item is None:
        return ServiceState(name=name, exists=False)
    meta = item["metadata"]
    spec = item.get("spec") or {}
    ports = spec.get("ports") or [{}]
    ip = spec.get("clusterIP")
    return ServiceState(
        name=name,
        exists=True,
        selector=dict(spec.get("selector") or {}) or None,
        cluster_ip=ip if ip and ip != "None" else None,
        port=ports[0].get("port"),
        owned=ownership.service_owner(meta.get("labels")) == release,
        adoptable=ownership.adoption_requested_by(meta.get("annotations")) == release,
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
    )


def _jobs(items: list[JSON]) -> dict[str, JobState]:
    result: dict[str, JobState] = {}
    for item in items:
        meta = item["metadata"]
        labels = meta.get("labels") or {}
        conditions = {
            c.get("type"): c
            for c in (item.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"
        }
        failed = conditions.get("Failed")
        result[meta["name"]] = JobState(
            name=meta["name"],
            revision=str(labels.get(REVISION_LABEL, "")),
            succeeded="Complete" in conditions,
            failed=failed is not None,
            message=str((failed or {}).get("message") or (failed or {}).get("reason") or ""),
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
        )
    return result
