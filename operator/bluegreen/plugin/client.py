"""Reads and writes of BlueGreenReleases and of what they own, for the commands.

``ReleaseClient`` is what the commands need; ``KubeReleaseClient`` does it on a
real API server. Tests drive the commands with a stateful fake of the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import quote

from bluegreen.api.v1alpha1 import GROUP, PLURAL, RELEASE_LABEL, VERSION
from bluegreen.plugin.kube import (
    JSON,
    MERGE_PATCH,
    ApiError,
    KubeApi,
    PluginError,
    Target,
    TransportError,
)
from bluegreen.plugin.resource import Obj, mapping, mappings, text

__all__ = [
    "KubeReleaseClient",
    "PluginError",
    "ReleaseClient",
    "ReleaseNotFoundError",
    "View",
]

WATCH_CHUNK_SECONDS: Final = 300
"""A watch is re-opened at least this often, so a silently dead one cannot last."""
RECONNECT_ATTEMPTS: Final = 5
"""Consecutive failed (re)connections of one watch before the command gives up."""
RECONNECT_BACKOFF: Final = (0.5, 1.0, 2.0, 4.0, 8.0)
HTTP_GONE: Final = 410


class ReleaseNotFoundError(PluginError):
    pass


@dataclass(frozen=True)
class View:
    """A release and the objects it owns, as one consistent thing to draw."""

    release: Obj
    deployments: tuple[Obj, ...] = ()
    pods: tuple[Obj, ...] = ()
    jobs: tuple[Obj, ...] = ()
    problems: tuple[str, ...] = field(default=())
    """Owned kinds that could not be read (forbidden, say): shown, not fatal."""


class ReleaseClient(Protocol):
    @property
    def target(self) -> Target: ...

    async def get(self, namespace: str, name: str) -> Obj: ...

    async def releases(self, namespace: str | None) -> list[Obj]:
        """Releases of one namespace, or of every namespace for None."""
        ...

    async def patch_annotations(self, namespace: str, name: str, patch: dict[str, Any]) -> Obj: ...

    async def view(self, namespace: str, name: str) -> View: ...

    def follow(self, namespace: str, name: str, *, owned: bool) -> AsyncIterator[View]:
        """The current view, then a new one after every change, until cancelled.

        Raises ``ReleaseNotFoundError`` when the release is deleted.
        """
        ...

    async def server_version(self) -> str: ...

    async def served(self) -> bool:
        """Whether the API server serves the BlueGreenRelease API (the CRD is installed)."""
        ...


def releases_path(namespace: str | None, name: str = "") -> str:
    scope = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
    path = f"/apis/{GROUP}/{VERSION}{scope}/{PLURAL}"
    return f"{path}/{quote(name, safe='')}" if name else path


# Owned kinds, the path of each in a namespace.
OWNED: Final[Mapping[str, Callable[[str], str]]] = {
    "deployments": lambda ns: f"/apis/apps/v1/namespaces/{quote(ns, safe='')}/deployments",
    "pods": lambda ns: f"/api/v1/namespaces/{quote(ns, safe='')}/pods",
    "jobs": lambda ns: f"/apis/batch/v1/namespaces/{quote(ns, safe='')}/jobs",
}


def _release_error(err: ApiError, namespace: str, name: str) -> PluginError:
    if err.status == 404:
        if "could not find the requested resource" in str(err):
            return PluginError(
                f"the API server does not serve {PLURAL}.{GROUP}/{VERSION}: "
                "is the BlueGreenRelease CRD installed?"
            )
        return ReleaseNotFoundError(
            f'bluegreenrelease "{name}" not found in namespace "{namespace}"'
        )
    return err


def _owned_query(name: str) -> dict[str, str]:
    return {"labelSelector": f"{RELEASE_LABEL}={name}"}


class KubeReleaseClient:
    def __init__(self, api: KubeApi) -> None:
        self.api = api

    @property
    def target(self) -> Target:
        return self.api.target

    async def get(self, namespace: str, name: str) -> Obj:
        try:
            return await self.api.request("GET", releases_path(namespace, name))
        except ApiError as err:
            raise _release_error(err, namespace, name) from None

    async def releases(self, namespace: str | None) -> list[Obj]:
        try:
            found = await self.api.request("GET", releases_path(namespace))
        except ApiError as err:
            raise _release_error(err, namespace or "", "") from None
        return list(mappings(found.get("items")))

    async def patch_annotations(self, namespace: str, name: str, patch: dict[str, Any]) -> Obj:
        try:
            # Merge patch: sibling annotations and the rest of the object stay as they are.
            return await self.api.request(
                "PATCH", releases_path(namespace, name), body=patch, content_type=MERGE_PATCH
            )
        except ApiError as err:
            raise _release_error(err, namespace, name) from None

    async def server_version(self) -> str:
        found = await self.api.request("GET", "/version")
        return text(found.get("gitVersion"), "unknown")

    async def served(self) -> bool:
        try:
            await self.api.request("GET", f"/apis/{GROUP}/{VERSION}")
        except ApiError as err:
            if err.status == 404:
                return False
            raise
        return True

    async def _owned(self, kind: str, namespace: str, name: str) -> tuple[list[JSON], str]:
        try:
            found = await self.api.request("GET", OWNED[kind](namespace), query=_owned_query(name))
        except ApiError as err:
            return [], f"{kind}: {err}"
        return [dict(item) for item in mappings(found.get("items"))], ""

    async def view(self, namespace: str, name: str) -> View:
        # The release first: when it is missing, nothing else is worth asking.
        release = await self.get(namespace, name)
        (deployments, p1), (pods, p2), (jobs, p3) = await asyncio.gather(
            self._owned("deployments", namespace, name),
            self._owned("pods", namespace, name),
            self._owned("jobs", namespace, name),
        )
        return View(
            release=release,
            deployments=tuple(deployments),
            pods=tuple(pods),
            jobs=tuple(jobs),
            problems=tuple(p for p in (p1, p2, p3) if p),
        )

    async def follow(self, namespace: str, name: str, *, owned: bool) -> AsyncIterator[View]:
        """One list-then-watch mirror per kind, merged; a view after each batch of changes."""
        queue: asyncio.Queue[_Update] = asyncio.Queue()
        mirrors = {
            "release": _Mirror(
                "release", releases_path(namespace), {"fieldSelector": f"metadata.name={name}"}
            )
        }
        if owned:
            for kind in OWNED:
                mirrors[kind] = _Mirror(kind, OWNED[kind](namespace), _owned_query(name))
        tasks = [asyncio.create_task(m.run(self.api, queue)) for m in mirrors.values()]
        state = _FollowState(namespace, name, set(mirrors))
        try:
            while True:
                state.apply(await queue.get())
                # Coalesce: whatever already arrived belongs to the same picture.
                while not queue.empty():
                    state.apply(queue.get_nowait())
                if state.ready():
                    yield state.view()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, PluginError):
                    await task


@dataclass
class _Update:
    kind: str
    event: str
    """SYNC (a full list in ``items``), ADDED, MODIFIED, DELETED, or FAILED (``error``)."""
    items: list[JSON] = field(default_factory=list)
    error: PluginError | None = None


class _FollowState:
    def __init__(self, namespace: str, name: str, kinds: set[str]) -> None:
        self.namespace, self.name = namespace, name
        self.objects: dict[str, dict[str, JSON]] = {kind: {} for kind in kinds}
        self.synced: set[str] = set()
        self.problems: dict[str, str] = {}

    def apply(self, update: _Update) -> None:
        if update.error is not None:
            if update.kind == "release" or not isinstance(update.error, ApiError):
                raise update.error
            # An owned kind we may not read: say so in the view, keep following.
            self.problems[update.kind] = f"{update.kind}: {update.error}"
            self.synced.add(update.kind)
            return
        known = self.objects[update.kind]
        if update.event == "SYNC":
            known.clear()
            self.synced.add(update.kind)
        for item in update.items:
            uid = text(mapping(item.get("metadata")).get("uid")) or text(
                mapping(item.get("metadata")).get("name")
            )
            if update.event == "DELETED":
                known.pop(uid, None)
            else:
                known[uid] = item
        if update.kind == "release" and update.kind in self.synced and not known:
            what = "was deleted" if update.event == "DELETED" else "not found"
            raise ReleaseNotFoundError(
                f'bluegreenrelease "{self.name}" {what} in namespace "{self.namespace}"'
            )

    def ready(self) -> bool:
        return self.synced == set(self.objects)

    def view(self) -> View:
        def items(kind: str) -> tuple[Obj, ...]:
            return tuple(self.objects.get(kind, {}).values())

        release = next(iter(self.objects["release"].values()))
        return View(
            release=release,
            deployments=items("deployments"),
            pods=items("pods"),
            jobs=items("jobs"),
            problems=tuple(self.problems.values()),
        )


class _Mirror:
    """List, then watch from the list's resourceVersion; re-list when history is gone."""

    def __init__(self, kind: str, path: str, query: Mapping[str, str]) -> None:
        self.kind, self.path, self.query = kind, path, dict(query)

    async def run(self, api: KubeApi, queue: asyncio.Queue[_Update]) -> None:
        failures = 0
        resource_version = ""
        listed_once = False
        while True:
            try:
                if not resource_version:
                    listed = await api.request("GET", self.path, query=self.query)
                    resource_version = text(mapping(listed.get("metadata")).get("resourceVersion"))
                    items = [dict(i) for i in mappings(listed.get("items"))]
                    queue.put_nowait(_Update(self.kind, "SYNC", items))
                    listed_once = True
                resource_version = await self._watch(api, queue, resource_version)
                failures = 0
            except ApiError as err:
                if err.status == HTTP_GONE and failures < RECONNECT_ATTEMPTS:
                    # History compacted: start over from the current state.
                    resource_version = ""
                    failures += 1
                    continue
                queue.put_nowait(_Update(self.kind, "FAILED", error=err))
                return
            except TransportError as err:
                # A blip of the API server must not end a `--wait` of a CI job at once;
                # a server that cannot be reached at all is an error right away.
                if not listed_once or failures >= RECONNECT_ATTEMPTS:
                    queue.put_nowait(_Update(self.kind, "FAILED", error=err))
                    return
                await asyncio.sleep(RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF) - 1)])
                failures += 1

    async def _watch(self, api: KubeApi, queue: asyncio.Queue[_Update], since: str) -> str:
        """Stream events until the server closes the watch; the last resourceVersion seen."""
        query = {
            **self.query,
            "resourceVersion": since,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_CHUNK_SECONDS),
        }
        async for event in api.stream(self.path, query):
            kind = text(event.get("type"))
            obj = dict(mapping(event.get("object")))
            if kind == "ERROR":
                code = obj.get("code")
                raise ApiError(
                    int(code) if isinstance(code, int) else 500, text(obj.get("message"))
                )
            since = text(mapping(obj.get("metadata")).get("resourceVersion"), since)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                queue.put_nowait(_Update(self.kind, kind, [obj]))
        return since
