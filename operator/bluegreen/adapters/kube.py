"""Kubernetes resource families the operator reads and writes. No decisions here.

``get_*`` returns None on 404; every other failure is a ``KubeError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from bluegreen.adapters.caches import Caches
from bluegreen.adapters.kube_events import Events
from bluegreen.adapters.kube_rest import JSON, KubeError, KubeRest
from bluegreen.adapters.watch_cache import WatchCache
from bluegreen.api.v1alpha1 import (
    ACTION_ANNOTATION,
    API_VERSION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLURAL,
    RELEASE_LABEL,
)

LIVE_COPY_SECONDS = 1.0
"""A watched copy younger than this stands for a read: an answer from a loaded API
server is 0.2-0.7 s old when it arrives (bench/scale --trace at 300 releases)."""


def _release_selector(release: str) -> str:
    return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{RELEASE_LABEL}={release}"


class StatusChangedError(Exception):
    """The release's status was changed by another writer since this step read it."""


def _remember(cache: WatchCache | None, written: JSON | None) -> None:
    """Our own write's result goes to the cache at once: the next step must see it."""
    if cache is not None:
        cache.put(written)


class Releases:
    """The BlueGreenRelease resources: read them, write only status and our annotation."""

    def __init__(self, rest: KubeRest, cache: WatchCache | None = None) -> None:
        self.rest, self.cache = rest, cache

    def _path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}"
        return f"{base}/{name}" if name else base

    async def get(self, namespace: str, name: str, fresh: bool = False) -> JSON | None:
        """From the cache; from the API server when asked or when the cache has not seen it."""
        cached = None if fresh or self.cache is None else self.cache.get(namespace, name)
        return cached if cached is not None else await self.rest.get(self._path(namespace, name))

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str = "",
        unless: asyncio.Event | None = None,
    ) -> str:
        """Merge-patch status; returns the resourceVersion the write produced.

        With ``resource_version`` the write is conditional: the API server answers
        409 when the release changed since it was read.
        """
        patch: dict[str, Any] = {"status": status}
        if resource_version:
            patch["metadata"] = {"resourceVersion": resource_version}
        written = await self.rest.merge_patch(
            f"{self._path(namespace, name)}/status", patch, unless=unless
        )
        _remember(self.cache, written)
        return str(written.get("metadata", {}).get("resourceVersion", ""))

    async def patch_status_as_read(
        self,
        body: Mapping[str, Any],
        patch: Mapping[str, Any],
        attempts: int,
        unless: asyncio.Event | None = None,
    ) -> str:
        """Write status only over the status it was decided from (``body``'s).

        The patch is conditional on the resourceVersion read. A conflict alone
        says little: a human's annotation or spec edit, or the step's own removal
        of the action annotation, also bump it. So read again: if the status is
        still the one decided from, write on the new version; if another writer
        changed it (a second operator that believes it leads), raise
        ``StatusChangedError`` and write nothing.
        """
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        version = str(meta.get("resourceVersion") or "")
        for _ in range(attempts):
            try:
                return await self.patch_status(namespace, name, patch, version, unless)
            except KubeError as err:
                if not err.conflict:
                    raise
            current = await self.get(namespace, name, fresh=True)
            if current is None or current.get("status") != body.get("status"):
                raise StatusChangedError("the status changed since it was read")
            version = str(current["metadata"].get("resourceVersion") or "")
        raise StatusChangedError("the release kept changing while its status was written")

    async def clear_action(self, namespace: str, name: str, raw: str) -> None:
        """Remove the action annotation, but only if it still holds the value we consumed.

        The value is compared here and the removal fenced on resourceVersion: a JSON
        patch ``test`` of the value itself compares encoded bytes, and the API server
        encodes ``<``, ``>``, ``&`` and non-ASCII characters unlike Python's encoder,
        so such values would never be cleared.
        """
        current = await self.get(namespace, name, fresh=True)
        _remember(self.cache, current)
        meta = (current or {}).get("metadata") or {}
        if (meta.get("annotations") or {}).get(ACTION_ANNOTATION) != raw:
            return  # gone, or a newer action replaced it (it will be consumed next)
        key = ACTION_ANNOTATION.replace("~", "~0").replace("/", "~1")
        operations = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            {"op": "remove", "path": f"/metadata/annotations/{key}"},
        ]
        try:
            written = await self.rest.json_patch(self._path(namespace, name), operations)
        except KubeError as err:
            # 409/422: changed since the read (the next step looks again); 404: gone.
            if err.status not in (404, 409, 422):
                raise
            return
        # The next step reads the cache: with the annotation still there it would
        # clear it again, or (a record that no longer matches) consume it again.
        _remember(self.cache, written)

    async def set_finalizers(self, namespace: str, name: str, finalizers: list[str]) -> None:
        written = await self.rest.merge_patch(
            self._path(namespace, name), {"metadata": {"finalizers": finalizers}}
        )
        _remember(self.cache, written)


class Deployments:
    def __init__(
        self, rest: KubeRest, cache: WatchCache | None = None, urgent: KubeRest | None = None
    ) -> None:
        self.rest, self.cache = rest, cache
        self.urgent = urgent or rest
        """Reads by name (the check right before a switch) go in the urgent lane."""
        self.refused_names: set[tuple[str, str]] = set()
        """(namespace, name) a create found taken: the observer reads them by name, since
        an object without our labels never reaches the cache."""

    @staticmethod
    def _path(namespace: str, name: str = "") -> str:
        base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        return f"{base}/{name}" if name else base

    async def list_for_release(self, namespace: str, release: str) -> list[JSON]:
        return await self.rest.list_items(self._path(namespace), _release_selector(release))

    async def get(self, namespace: str, name: str) -> JSON | None:
        return await self.urgent.get(self._path(namespace, name))

    async def live(self, namespace: str, name: str) -> JSON | None:
        """The Deployment as it is now, for the last look before a switch.

        The watch's copy when it arrived within ``LIVE_COPY_SECONDS`` (the usual
        case: its turn to Available is what woke the release), else a read in the
        urgent lane. Each switch then costs that lane one request instead of two.
        """
        if self.cache is not None:
            recent = self.cache.recent(namespace, name, LIVE_COPY_SECONDS)
            if recent is not None:
                return recent
        return await self.get(namespace, name)

    async def create(self, manifest: Mapping[str, Any]) -> None:
        meta = manifest["metadata"]
        written = await self.rest.create(self._path(str(meta["namespace"])), manifest)
        if written is None:
            self.refused_names.add((str(meta["namespace"]), str(meta["name"])))
        _remember(self.cache, written)

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        patch = {"spec": {"replicas": replicas}}
        _remember(self.cache, await self.rest.merge_patch(self._path(namespace, name), patch))

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool:
        """Delete; with ``uid`` (and ``resource_version``) only that very object, as observed."""
        return await self.rest.delete(
            self._path(namespace, name), uid=uid, resource_version=resource_version
        )


class Services:
    def __init__(
        self, rest: KubeRest, cache: WatchCache | None = None, urgent: KubeRest | None = None
    ) -> None:
        self.rest, self.cache = rest, cache
        self.urgent = urgent or rest
        """Selector patches (traffic moving) go in the urgent lane."""

    @staticmethod
    def _path(namespace: str, name: str = "") -> str:
        base = f"/api/v1/namespaces/{namespace}/services"
        return f"{base}/{name}" if name else base

    async def get(self, namespace: str, name: str) -> JSON | None:
        return await self.rest.get(self._path(namespace, name))

    async def list(self, namespace: str) -> list[JSON]:
        return await self.rest.list_items(self._path(namespace))

    async def set_selector(
        self,
        namespace: str,
        name: str,
        selector: Mapping[str, str],
        *,
        uid: str = "",
        resource_version: str = "",
    ) -> None:
        """Replace exactly ``spec.selector``; nothing else of the Service is written.

        With ``uid`` and ``resource_version`` the patch is fenced: the API server
        applies it only to the very Service, unchanged since it was observed (a 422
        otherwise, and the caller looks again).
        """
        operations: list[dict[str, Any]] = []
        if uid:
            operations.append({"op": "test", "path": "/metadata/uid", "value": uid})
        if resource_version:
            operations.append(
                {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version}
            )
        operations.append({"op": "add", "path": "/spec/selector", "value": dict(selector)})
        _remember(self.cache, await self.urgent.json_patch(self._path(namespace, name), operations))

    async def create(self, manifest: Mapping[str, Any]) -> None:
        await self.rest.create(self._path(str(manifest["metadata"]["namespace"])), manifest)

    async def merge_patch(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        await self.rest.merge_patch(self._path(namespace, name), patch)

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool:
        """Delete; with ``uid`` (and ``resource_version``) only that very object, as observed."""
        return await self.rest.delete(
            self._path(namespace, name), uid=uid, resource_version=resource_version
        )


class Endpoints:
    """EndpointSlices and pods: the proof of where a Service really sends traffic."""

    def __init__(self, rest: KubeRest) -> None:
        self.rest = rest

    async def slices_for_service(self, namespace: str, service: str) -> list[JSON]:
        return await self.rest.list_items(
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            f"kubernetes.io/service-name={service}",
        )

    async def pods_for_release(self, namespace: str, release: str) -> list[JSON]:
        return await self.rest.list_items(
            f"/api/v1/namespaces/{namespace}/pods", f"{RELEASE_LABEL}={release}"
        )


class Jobs:
    def __init__(self, rest: KubeRest, cache: WatchCache | None = None) -> None:
        self.rest, self.cache = rest, cache

    @staticmethod
    def _path(namespace: str, name: str = "") -> str:
        base = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        return f"{base}/{name}" if name else base

    async def list_for_release(self, namespace: str, release: str) -> list[JSON]:
        return await self.rest.list_items(self._path(namespace), _release_selector(release))

    async def create(self, manifest: Mapping[str, Any]) -> None:
        path = self._path(str(manifest["metadata"]["namespace"]))
        _remember(self.cache, await self.rest.create(path, manifest))

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool:
        return await self.rest.delete(
            self._path(namespace, name),
            propagation="Background",
            uid=uid,
            resource_version=resource_version,
        )


class Kube:
    """All resource families, built once at startup and kept in kopf's memo.

    With ``caches``, releases are read from their watch cache and our writes'
    results go into the caches at once; the observer reads the rest from them.
    With ``urgent``, a client of its own, moving traffic (the read right before a
    switch, the selector patch) never queues behind the routine writes of other
    releases: under load, those queue for the connections of ``rest``.
    """

    def __init__(
        self, rest: KubeRest, caches: Caches | None = None, urgent: KubeRest | None = None
    ) -> None:
        self.rest, self.caches, self.urgent = rest, caches, urgent
        self.releases = Releases(rest, caches.releases if caches else None)
        self.deployments = Deployments(rest, caches.deployments if caches else None, urgent)
        self.services = Services(rest, caches.services if caches else None, urgent)
        self.endpoints = Endpoints(rest)
        self.jobs = Jobs(rest, caches.jobs if caches else None)
        self.events = Events(rest)

    async def close(self) -> None:
        await self.events.close()
        await self.rest.api.close()
        if self.urgent is not None:
            await self.urgent.api.close()
