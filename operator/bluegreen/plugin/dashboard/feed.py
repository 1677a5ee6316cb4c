"""The releases of a scope and their Events, kept current by watches with the caller's rights.

Each kind is listed, then watched from the list's resourceVersion; a watch the
server ends is resumed, an expired one (410) listed again. A refusal (403,
404) or an unreachable server does not end the dashboard: it becomes a
problem the page shows, and the kind is tried again after a growing delay, so
rights granted later, or a server back up, show without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol
from urllib.parse import quote

from bluegreen.api.v1alpha1 import KIND
from bluegreen.plugin.client import releases_path
from bluegreen.plugin.dashboard.timeline import event_time
from bluegreen.plugin.kube import JSON, ApiError, PluginError
from bluegreen.plugin.resource import mapping, mappings, text

RELEASES: Final = "bluegreenreleases"
EVENTS: Final = "events"
MAX_EVENTS: Final = 2000
"""Events kept, newest first: the page shows a few per release."""
RETRY_SECONDS: Final = (1.0, 2.0, 5.0, 10.0, 30.0)
WATCH_SECONDS: Final = 300
HTTP_GONE: Final = 410


class WatchApi(Protocol):
    """What the feed needs of ``kube.KubeApi``."""

    async def request(
        self, method: str, path: str, *, query: Mapping[str, str] | None = None
    ) -> JSON: ...

    def stream(self, path: str, query: Mapping[str, str]) -> AsyncIterator[JSON]: ...


def events_path(namespace: str | None) -> str:
    if namespace is None:
        return "/api/v1/events"
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/events"


@dataclass
class _Kind:
    path: str
    query: dict[str, str]
    objects: dict[str, JSON] = field(default_factory=dict)
    synced: bool = False
    problem: str = ""


def _uid(obj: Mapping[str, object]) -> str:
    meta = mapping(obj.get("metadata"))
    return text(meta.get("uid")) or f"{text(meta.get('namespace'))}/{text(meta.get('name'))}"


class Feed:
    """The latest objects of each kind, a version that moves on every change, and problems."""

    def __init__(
        self,
        api: WatchApi,
        namespace: str | None,
        *,
        retry_seconds: Sequence[float] = RETRY_SECONDS,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self.api = api
        self.retry_seconds = tuple(retry_seconds)
        self.max_events = max_events
        self.kinds = {
            RELEASES: _Kind(releases_path(namespace), {}),
            EVENTS: _Kind(events_path(namespace), {"fieldSelector": f"involvedObject.kind={KIND}"}),
        }
        self.version = 0
        self._changed = asyncio.Event()

    # --- what the page reads ---------------------------------------------------------

    def releases(self) -> list[JSON]:
        return list(self.kinds[RELEASES].objects.values())

    def events(self) -> list[JSON]:
        return list(self.kinds[EVENTS].objects.values())

    def problems(self) -> list[str]:
        return [f"{name}: {kind.problem}" for name, kind in self.kinds.items() if kind.problem]

    def loading(self) -> bool:
        """Nothing listed yet, and nothing went wrong either: the first list is on its way."""
        return any(not k.synced and not k.problem for k in self.kinds.values())

    async def changed(self, version: int) -> int:
        """The version, once it differs from ``version``."""
        while self.version == version:
            await self._changed.wait()
        return self.version

    def _bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    # --- watches ---------------------------------------------------------------------

    async def run(self) -> None:
        """Follow every kind until cancelled."""
        await asyncio.gather(*(self._follow(name) for name in self.kinds))

    async def _follow(self, name: str) -> None:
        kind = self.kinds[name]
        failures = 0
        relisted = False
        while True:
            try:
                since = await self._list(kind)
                failures = 0
                while since:
                    since = await self._watch(kind, since)
                    relisted = False
            except ApiError as err:
                if err.status == HTTP_GONE and not relisted:
                    relisted = True  # history compacted: list again at once, once in a row
                    continue
                if err.status != HTTP_GONE:
                    self._fail(kind, str(err), forget=True)
            except PluginError as err:
                self._fail(kind, str(err), forget=False)
            await asyncio.sleep(self.retry_seconds[min(failures, len(self.retry_seconds) - 1)])
            failures += 1

    def _fail(self, kind: _Kind, problem: str, *, forget: bool) -> None:
        """A refusal forgets what was shown (the rights may be gone); a lost connection
        keeps it, marked by the problem, until the server answers again."""
        kind.problem = problem
        if forget:
            kind.objects.clear()
            kind.synced = False
        self._bump()

    async def _list(self, kind: _Kind) -> str:
        listed = await self.api.request("GET", kind.path, query=kind.query)
        kind.objects = {_uid(item): dict(item) for item in mappings(listed.get("items"))}
        self._trim(kind)
        kind.synced, kind.problem = True, ""
        self._bump()
        return text(mapping(listed.get("metadata")).get("resourceVersion"))

    async def _watch(self, kind: _Kind, since: str) -> str:
        """Apply watch events until the server ends the watch; where to resume ("": list)."""
        query = {
            **kind.query,
            "resourceVersion": since,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        async for event in self.api.stream(kind.path, query):
            change = text(event.get("type"))
            obj = dict(mapping(event.get("object")))
            if change == "ERROR":
                code = obj.get("code")
                raise ApiError(code if isinstance(code, int) else 500, text(obj.get("message")))
            since = text(mapping(obj.get("metadata")).get("resourceVersion"), since)
            if change == "DELETED":
                kind.objects.pop(_uid(obj), None)
            elif change in ("ADDED", "MODIFIED"):
                kind.objects[_uid(obj)] = obj
                self._trim(kind)
            else:
                continue  # BOOKMARK: only the resourceVersion moves
            self._bump()
        return since

    def _trim(self, kind: _Kind) -> None:
        if kind is not self.kinds[EVENTS] or len(kind.objects) <= self.max_events:
            return
        oldest = sorted(kind.objects, key=lambda uid: event_time(kind.objects[uid]) or _EPOCH)
        for uid in oldest[: len(kind.objects) - self.max_events]:
            del kind.objects[uid]


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
