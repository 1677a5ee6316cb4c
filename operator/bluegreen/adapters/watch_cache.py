"""An informer: one label-selected LIST, then a WATCH, kept as an in-memory index.

Steps read what they observe from here instead of asking the API server, which
then sees only the operator's writes and one long-lived watch per kind. The
cache may lag the API server by a watch event; that is safe because every write
is conditional (uid, resourceVersion, JSON-patch ``test``) and a conflict makes
the step observe again, and because the proof of a switch is read fresh
(``reconciler.observe``).

resourceVersions are compared as integers: Kubernetes 1.35 made them
comparable (KEP-5504), and our own writes, applied here at once, must not be
undone by a watch event that was already on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from bluegreen.adapters.kube_rest import JSON, KubeError, KubeRest

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""(namespace, index value): the release name, or the Service name for EndpointSlices."""
RECONNECT_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0)
LIST_PAGE_SIZE = 250
"""Objects per LIST page (see ``_relist``)."""
MAX_LIST_PAGES = 10_000
"""A bound on one list's pages: 2.5 million objects, far beyond any cluster here."""
WATCH_SECONDS = 240
"""Server-side length of one watch; it then resumes from the last resourceVersion."""


def is_newer(candidate: str, current: str, or_same: bool = False) -> bool:
    """True when ``candidate`` is a later resourceVersion (or not comparable at all)."""
    try:
        a, b = int(candidate), int(current)
    except ValueError:
        return True
    return a >= b if or_same else a > b


class GoneError(Exception):
    """The watch's resourceVersion is too old (410): list again."""


@dataclass(frozen=True)
class CacheSpec:
    """What one cache holds: a kind, the server-side selector, and how to index and slim it."""

    kind: str
    """Collection path relative to a namespace or the cluster: ``apis/apps/v1/deployments``."""
    label_selector: str
    index: Callable[[JSON], str | None]
    slim: Callable[[JSON], JSON]


class WatchCache:
    """The objects of one kind the selector matches, in all watched namespaces.

    ``on_change`` is told of every object that arrives (from the watch, not from
    our own writes), so the release it belongs to can be woken at once.
    """

    def __init__(
        self,
        rest: KubeRest,
        spec: CacheSpec,
        namespaces: tuple[str, ...] = (),
        on_change: Callable[[JSON], None] = lambda item: None,
        keep: Callable[[str], bool] = lambda namespace: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rest, self.spec, self.on_change, self.keep = rest, spec, on_change, keep
        """``keep(namespace)``: False for namespaces another shard owns; never stored."""
        self.clock = clock
        self.scopes = namespaces or ("",)
        self.objects: dict[Key, JSON] = {}
        """(namespace, name) -> the slimmed object."""
        self.arrived: dict[Key, float] = {}
        """(namespace, name) -> when (monotonic) its current version reached the cache."""
        self.by_index: dict[Key, set[str]] = {}
        """(namespace, index value) -> names."""
        self.synced = asyncio.Event()
        self._scopes_synced: set[str] = set()
        self.versions: dict[str, str] = {}
        """Per scope, the resourceVersion to resume watching from ("" lists again)."""
        self.relists = 0

    # -- reading -------------------------------------------------------------

    def get(self, namespace: str, name: str) -> JSON | None:
        return self.objects.get((namespace, name))

    def recent(self, namespace: str, name: str, max_age: float) -> JSON | None:
        """The object, if its current version arrived within ``max_age`` seconds.

        Such a copy is as fresh as a read sent now would be by the time its
        answer came back from a loaded API server; an older one may hide a
        change a stalled watch never delivered.
        """
        arrived = self.arrived.get((namespace, name))
        if arrived is None or self.clock() - arrived > max_age:
            return None
        return self.objects.get((namespace, name))

    def indexed(self, namespace: str, value: str) -> list[JSON]:
        names = self.by_index.get((namespace, value), ())
        return [self.objects[(namespace, n)] for n in sorted(names)]

    def __len__(self) -> int:
        return len(self.objects)

    # -- writing -------------------------------------------------------------

    def put(self, item: JSON | None) -> None:
        """Take an object our own write returned: newer than anything the cache holds."""
        if item and item.get("metadata"):
            self._store(self.spec.slim(item))

    def _store(self, item: JSON) -> bool:
        meta = item["metadata"]
        key = (str(meta.get("namespace", "")), str(meta["name"]))
        if not self.keep(key[0]):
            return False
        current = self.objects.get(key)
        version = str(meta.get("resourceVersion", ""))
        if current is not None:
            if not is_newer(version, str(current["metadata"].get("resourceVersion", ""))):
                return False
            self._unindex(key, current)
        self.objects[key] = item
        self.arrived[key] = self.clock()
        value = self.spec.index(item)
        if value:
            self.by_index.setdefault((key[0], value), set()).add(key[1])
        return True

    def _remove(self, item: JSON) -> bool:
        meta = item["metadata"]
        key = (str(meta.get("namespace", "")), str(meta["name"]))
        current = self.objects.get(key)
        if current is None:
            return False
        known = str(current["metadata"].get("resourceVersion", ""))
        if not is_newer(str(meta.get("resourceVersion", "")), known, or_same=True):
            return False
        self._unindex(key, current)
        del self.objects[key]
        self.arrived.pop(key, None)
        return True

    def _unindex(self, key: Key, item: JSON) -> None:
        value = self.spec.index(item)
        names = self.by_index.get((key[0], value or ""))
        if names is not None:
            names.discard(key[1])
            if not names:
                del self.by_index[(key[0], value or "")]

    # -- the list/watch loop -------------------------------------------------

    def _path(self, scope: str) -> str:
        prefix, _, rest = self.spec.kind.partition("/")
        head = f"/{prefix}/{rest.rsplit('/', 1)[0]}"
        resource = rest.rsplit("/", 1)[1]
        return f"{head}/namespaces/{scope}/{resource}" if scope else f"{head}/{resource}"

    async def run(self) -> None:
        """List and watch every scope until cancelled; errors only delay, never stop it."""
        async with asyncio.TaskGroup() as group:
            for scope in self.scopes:
                group.create_task(self._run_scope(scope))

    async def _run_scope(self, scope: str) -> None:
        failures = 0
        while True:
            try:
                if not self.versions.get(scope):
                    self.versions[scope] = await self._relist(scope)
                    self._scopes_synced.add(scope)
                    if self._scopes_synced >= set(self.scopes):
                        self.synced.set()
                await self._watch(scope)
                failures = 0
            except GoneError:
                self.versions[scope] = ""  # too old: the next turn lists again
            except (KubeError, ValueError) as err:
                if isinstance(err, KubeError) and err.status == 410:
                    self.versions[scope] = ""
                    continue
                delay = RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF) - 1)]
                failures += 1
                # Refused (RBAC) or invalid is worth a human's look; a dropped
                # connection (an API server restart) is routine.
                level = (
                    logging.WARNING if isinstance(err, KubeError) and err.status else logging.INFO
                )
                log.log(
                    level,
                    "%s watch interrupted (%s); resuming in %.1fs",
                    self.spec.kind,
                    err,
                    delay,
                )
                await asyncio.sleep(delay)
            except Exception:
                # A bug here must not end the cache for good: start over from a list.
                delay = RECONNECT_BACKOFF[-1]
                log.exception("%s watch failed; listing again in %.1fs", self.spec.kind, delay)
                self.versions[scope] = ""
                await asyncio.sleep(delay)

    async def _relist(self, scope: str) -> str:
        """List in pages: each page is slimmed before the next is read.

        A single LIST of thousands of pods parses to hundreds of MiB of dicts
        at once, which the allocator keeps long after they are slimmed; pages
        bound that peak. Every page is served from the first page's snapshot,
        so the version to watch from is the same for all of them.
        """
        self.relists += 1
        fresh: dict[Key, JSON] = {}
        version, token = "", ""
        for _ in range(MAX_LIST_PAGES):
            query = {"labelSelector": self.spec.label_selector, "limit": str(LIST_PAGE_SIZE)}
            if token:
                query["continue"] = token
            listed = await self.rest.request("GET", self._path(scope), query=query)
            meta = listed.get("metadata") or {}
            version = version or str(meta.get("resourceVersion", ""))
            for raw in listed.pop("items", None) or []:
                item = self.spec.slim(raw)
                item_meta = item["metadata"]
                fresh[(str(item_meta.get("namespace", "")), str(item_meta["name"]))] = item
            del listed
            token = str(meta.get("continue") or "")
            if not token:
                break
        else:
            raise ValueError(f"{self.spec.kind}: more than {MAX_LIST_PAGES} pages to list")
        for key, item in list(self.objects.items()):
            if scope and key[0] != scope:
                continue
            known = str(item["metadata"].get("resourceVersion", ""))
            if key not in fresh and not is_newer(known, version):
                self._unindex(key, item)
                del self.objects[key]
                self.arrived.pop(key, None)
        for item in fresh.values():
            if self._store(item):
                self.on_change(item)
        return version

    async def _watch(self, scope: str) -> None:
        """Follow one watch to its end; ``versions[scope]`` tracks where to resume."""
        query = {
            "labelSelector": self.spec.label_selector,
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": self.versions[scope],
            # Spread the reconnects of many caches over time.
            "timeoutSeconds": str(WATCH_SECONDS + random.randint(0, 60)),
        }
        async for event in self.rest.stream(self._path(scope), query):
            kind = event.get("type")
            raw = event.get("object") or {}
            if kind == "ERROR":
                if int(raw.get("code") or 0) == 410:
                    raise GoneError
                raise KubeError(int(raw.get("code") or 0), str(raw.get("message") or raw))
            version = (raw.get("metadata") or {}).get("resourceVersion")
            if version:
                self.versions[scope] = str(version)
            if kind == "BOOKMARK":
                continue
            item = self.spec.slim(raw)
            if kind == "DELETED":
                if self._remove(item):
                    self.on_change(item)
            elif self._store(item):
                self.on_change(item)


class CacheSet:
    """Several caches started, awaited and stopped together."""

    def __init__(self, caches: list[WatchCache]) -> None:
        self.caches = caches
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(cache.run()) for cache in self.caches]

    async def wait_synced(self) -> None:
        # Awaited at the start of every step: once synced it returns without giving
        # the loop a turn (a set Event's wait does not suspend). A gather would start
        # a task per cache and resume the step only a few loop turns later, each turn
        # as long as the loop is busy (with a thousand releases, seconds at the tail
        # of candidate Available -> switch).
        for cache in self.caches:
            await cache.synced.wait()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
