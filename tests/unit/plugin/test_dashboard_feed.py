"""The dashboard's watches, against a fake API server that keeps its objects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from dashboard_samples import event, release

from bluegreen.plugin.dashboard.feed import EVENTS, RELEASES, Feed, events_path
from bluegreen.plugin.kube import JSON, ApiError, TransportError

RELEASES_PATH = "/apis/bluegreen.dev/v1alpha1/namespaces/shop/bluegreenreleases"
EVENTS_PATH = "/api/v1/namespaces/shop/events"


class FakeApi:
    """Answers each list with the next of ``lists[path]`` (an object or an error to raise);
    a watch streams what the test puts in ``watches[path]`` (None ends it)."""

    def __init__(self) -> None:
        self.lists: dict[str, list[Any]] = {RELEASES_PATH: [], EVENTS_PATH: []}
        self.watches: dict[str, asyncio.Queue[Any]] = {
            RELEASES_PATH: asyncio.Queue(),
            EVENTS_PATH: asyncio.Queue(),
        }
        self.queries: list[tuple[str, dict[str, str]]] = []

    def listing(self, path: str, *items: JSON, version: str = "10") -> None:
        self.lists[path].append({"metadata": {"resourceVersion": version}, "items": list(items)})

    async def request(
        self, method: str, path: str, *, query: Mapping[str, str] | None = None
    ) -> JSON:
        assert method == "GET"
        self.queries.append((path, dict(query or {})))
        answers = self.lists[path]
        if not answers:
            raise TransportError("no answer scripted")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    async def stream(self, path: str, query: Mapping[str, str]) -> AsyncIterator[JSON]:
        self.queries.append((path, dict(query)))
        while True:
            item = await self.watches[path].get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item


async def until(feed: Feed, what: str, ready: Callable[[], bool]) -> None:
    async def watch() -> None:
        version = feed.version
        while not ready():
            version = await feed.changed(version)

    try:
        await asyncio.wait_for(watch(), 5)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def running(feed: Feed) -> AsyncIterator[None]:
    task = asyncio.create_task(feed.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def forbidden(resource: str) -> ApiError:
    return ApiError(403, f'forbidden: cannot list resource "{resource}" in namespace "shop"')


async def test_lists_then_follows_every_change() -> None:
    api = FakeApi()
    api.listing(RELEASES_PATH, release(phase="Deploying"))
    api.listing(EVENTS_PATH, event("CandidateCreated", "11:00:00"))
    feed = Feed(api, "shop")
    assert feed.loading()
    async with running(feed):
        await until(feed, "both lists", lambda: not feed.loading())
        assert [r["status"]["phase"] for r in feed.releases()] == ["Deploying"]
        assert [e["reason"] for e in feed.events()] == ["CandidateCreated"]
        assert feed.problems() == []

        modified = release(phase="Holding")
        modified["metadata"]["resourceVersion"] = "11"
        await api.watches[RELEASES_PATH].put({"type": "MODIFIED", "object": modified})
        await until(feed, "the change", lambda: feed.releases()[0]["status"]["phase"] == "Holding")

        await api.watches[EVENTS_PATH].put(
            {"type": "ADDED", "object": event("CandidateReady", "11:00:10")}
        )
        await until(feed, "the new Event", lambda: len(feed.events()) == 2)

        await api.watches[RELEASES_PATH].put({"type": "DELETED", "object": modified})
        await until(feed, "the deletion", lambda: feed.releases() == [])

        watched = [q for p, q in api.queries if p == RELEASES_PATH and "allowWatchBookmarks" in q]
        assert watched[0]["resourceVersion"] == "10" and watched[0]["allowWatchBookmarks"] == "true"
        (events_list, *_) = [q for p, q in api.queries if p == EVENTS_PATH]
        assert events_list == {"fieldSelector": "involvedObject.kind=BlueGreenRelease"}


async def test_a_refusal_is_a_problem_and_rights_granted_later_show() -> None:
    api = FakeApi()
    api.lists[RELEASES_PATH] = [forbidden("bluegreenreleases")]
    api.listing(EVENTS_PATH)
    feed = Feed(api, "shop", retry_seconds=(0.01,))
    async with running(feed):
        await until(feed, "the problem", lambda: bool(feed.problems()))
        assert feed.problems() == [
            "bluegreenreleases: forbidden: "
            'cannot list resource "bluegreenreleases" in namespace "shop"'
        ]
        assert not feed.loading()  # refused is not loading

        api.listing(RELEASES_PATH, release(phase="Complete"))  # the Role arrives
        await until(feed, "the release", lambda: len(feed.releases()) == 1)
        assert feed.problems() == []


async def test_an_expired_watch_lists_again() -> None:
    api = FakeApi()
    api.lists[RELEASES_PATH] = [
        {"metadata": {"resourceVersion": "10"}, "items": [release(phase="Deploying")]},
        {"metadata": {"resourceVersion": "90"}, "items": [release(phase="Complete")]},
    ]
    api.listing(EVENTS_PATH)
    feed = Feed(api, "shop", retry_seconds=(30.0,))
    async with running(feed):
        await until(feed, "the list", lambda: len(feed.releases()) == 1)
        await api.watches[RELEASES_PATH].put(
            {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}
        )
        # At once, not after the 30 s retry delay: the wait's own deadline proves it.
        await until(
            feed, "the new list", lambda: feed.releases()[0]["status"]["phase"] == "Complete"
        )
        assert feed.problems() == []


async def test_a_lost_connection_keeps_what_was_shown_and_says_so() -> None:
    api = FakeApi()
    api.listing(RELEASES_PATH, release(phase="Holding"))
    api.listing(EVENTS_PATH)
    feed = Feed(api, "shop", retry_seconds=(30.0,))
    async with running(feed):
        await until(feed, "the list", lambda: len(feed.releases()) == 1)
        await api.watches[RELEASES_PATH].put(TransportError("lost the watch: connection reset"))
        await until(feed, "the problem", lambda: bool(feed.problems()))
        assert feed.problems() == ["bluegreenreleases: lost the watch: connection reset"]
        assert len(feed.releases()) == 1


async def test_events_are_bounded_oldest_dropped() -> None:
    api = FakeApi()
    api.listing(RELEASES_PATH)
    api.listing(EVENTS_PATH, *(event("E", f"11:00:{s:02d}") for s in (30, 10, 20)))
    feed = Feed(api, "shop", max_events=2)
    async with running(feed):
        await until(feed, "the events", lambda: not feed.loading())
        assert sorted(e["lastTimestamp"][-3:-1] for e in feed.events()) == ["20", "30"]
        await api.watches[EVENTS_PATH].put({"type": "ADDED", "object": event("E", "11:00:40")})
        await until(
            feed, "the new event", lambda: any("40" in e["lastTimestamp"] for e in feed.events())
        )
        assert len(feed.events()) == 2


def test_paths_of_one_namespace_or_all() -> None:
    assert events_path("shop") == EVENTS_PATH
    assert events_path(None) == "/api/v1/events"
    everywhere = Feed(FakeApi(), None)
    assert everywhere.kinds[RELEASES].path == "/apis/bluegreen.dev/v1alpha1/bluegreenreleases"
    assert everywhere.kinds[EVENTS].path == "/api/v1/events"
