"""Turn API objects into the plain ``Observed`` snapshot decide() reads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_rest import JSON
from bluegreen.core import names
from bluegreen.core.observed import DeploymentState, JobState, Observed, ServiceState


def service_names(spec: Mapping[str, Any]) -> tuple[str, str]:
    """Stable and preview Service names, tolerant of a spec that fails validation."""
    stable = str((spec.get("service") or {}).get("name") or "")
    preview = str((spec.get("previewService") or {}).get("name") or "")
    return stable, preview or (f"{stable}-preview" if stable else "")


async def observe(kube: Kube, body: Mapping[str, Any]) -> Observed:
    meta = body["metadata"]
    namespace, release = str(meta["namespace"]), str(meta["name"])
    stable_name, preview_name = service_names(body.get("spec") or {})

    async def service(name: str) -> JSON | None:
        return await kube.services.get(namespace, name) if name else None

    async def slices() -> list[JSON]:
        return (
            await kube.endpoints.slices_for_service(namespace, stable_name) if stable_name else []
        )

    deployments, stable, preview, slice_list, pods, jobs = await asyncio.gather(
        kube.deployments.list_for_release(namespace, release),
        service(stable_name),
        service(preview_name),
        slices(),
        kube.endpoints.pods_for_release(namespace, release),
        kube.jobs.list_for_release(namespace, release),
    )
    endpoints, unknown = count_ready_endpoints(slice_list, pods)
    annotations = meta.get("annotations") or {}
    return Observed(
        generation=int(meta.get("generation") or 0),
        deployments=_deployments(deployments),
        stable=_service(stable_name, stable),
        preview=_service(preview_name, preview),
        stable_endpoints=endpoints,
        stable_unknown_endpoints=unknown,
        jobs=_jobs(jobs),
        action=annotations.get(names.ACTION_ANNOTATION) or None,
        deleting=bool(meta.get("deletionTimestamp")),
    )


def count_ready_endpoints(slices: list[JSON], pods: list[JSON]) -> tuple[dict[str, int], int]:
    """Ready endpoints per revision, and how many belong to no revision of ours."""
    revision_of = {
        p["metadata"]["name"]: (p["metadata"].get("labels") or {}).get(names.REVISION_LABEL)
        for p in pods
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
        revision = (meta.get("labels") or {}).get(names.REVISION_LABEL)
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
        )
    return result


def _service(name: str, item: JSON | None) -> ServiceState | None:
    if not name:
        return None
    if item is None:
        return ServiceState(name=name, exists=False)
    spec = item.get("spec") or {}
    ports = spec.get("ports") or [{}]
    ip = spec.get("clusterIP")
    return ServiceState(
        name=name,
        exists=True,
        selector=dict(spec.get("selector") or {}) or None,
        cluster_ip=ip if ip and ip != "None" else None,
        port=ports[0].get("port"),
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
            revision=str(labels.get(names.REVISION_LABEL, "")),
            succeeded="Complete" in conditions,
            failed=failed is not None,
            message=str((failed or {}).get("message") or (failed or {}).get("reason") or ""),
        )
    return result
