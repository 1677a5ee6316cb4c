"""The watch caches against the real API server: selection on the server, indexes,
deletes, a watch too old to resume (410), and our own writes seen at once."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bluegreen.adapters import watch_cache
from bluegreen.adapters.caches import Caches
from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_rest import KubeRest, make_api_client
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION, FINALIZER
from bluegreen.core import names
from tests.conftest import Cluster
from tests.integration.harness import Kubectl, release

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="session")]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.changes: list[tuple[str, str]] = []

    def request(self, verb: str, resource: str, code: int) -> None:
        self.requests.append((verb, resource))

    def change(self, kind: str, item: dict[str, Any]) -> None:
        self.changes.append((kind, str(item["metadata"]["name"])))


@pytest.fixture
async def watched(cluster: Cluster, namespace: str) -> AsyncIterator[tuple[Caches, Kube, Recorder]]:
    recorder = Recorder()
    rest = KubeRest(await make_api_client(str(cluster.kubeconfig)), on_response=recorder.request)
    caches = Caches(rest, (namespace,))
    caches.notify(recorder.change)
    caches.all.start()
    await asyncio.wait_for(caches.all.wait_synced(), timeout=30)
    yield caches, Kube(rest, caches), recorder
    await caches.all.stop()
    await rest.api.close()


async def until(what: str, condition: Callable[[], bool], seconds: float = 30) -> None:
    """Wait for a watch event to change the cache; bounded."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def deployment(namespace: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, **labels}},
                "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]},
            },
        },
    }


async def test_only_our_objects_arrive_indexed_by_release(
    watched: tuple[Caches, Kube, Recorder], k: Kubectl, namespace: str
) -> None:
    caches, _, recorder = watched
    k.apply(deployment(namespace, "ours", names.release_labels("shop")))
    k.apply(deployment(namespace, "theirs", {"app.kubernetes.io/managed-by": "someone-else"}))
    k.apply(deployment(namespace, "unlabeled", {}))
    await until("our Deployment", lambda: caches.deployments.get(namespace, "ours") is not None)
    # The selector is applied by the API server: look-alikes never reach the process,
    # so after ours arrived (same namespace, created later) they are still absent.
    k.apply(deployment(namespace, "ours-2", names.release_labels("shop")))
    await until("the second", lambda: caches.deployments.get(namespace, "ours-2") is not None)
    assert caches.deployments.get(namespace, "theirs") is None
    assert caches.deployments.get(namespace, "unlabeled") is None
    indexed = [d["metadata"]["name"] for d in caches.deployments.indexed(namespace, "shop")]
    assert indexed == ["ours", "ours-2"]
    assert ("deployments", "ours") in recorder.changes
    slim = caches.deployments.get(namespace, "ours")
    assert slim is not None and "managedFields" not in slim["metadata"]

    k.run("delete", "deployment", "ours", "-n", namespace)
    await until("the delete", lambda: caches.deployments.get(namespace, "ours") is None)
    assert [d["metadata"]["name"] for d in caches.deployments.indexed(namespace, "shop")] == [
        "ours-2"
    ]


async def test_endpoint_slices_of_our_services_carry_our_labels(
    watched: tuple[Caches, Kube, Recorder], k: Kubectl, namespace: str
) -> None:
    """The EndpointSlice controller copies a Service's labels: that is how we select them."""
    caches, _, _ = watched
    for name, labels in (("web", names.release_labels("shop")), ("other", {"team": "x"})):
        k.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
            }
        )
    await until("our Service", lambda: caches.services.get(namespace, "web") is not None)
    await until("its slice", lambda: bool(caches.endpoint_slices.indexed(namespace, "web")))
    assert caches.services.get(namespace, "other") is None
    assert caches.endpoint_slices.indexed(namespace, "other") == []


def compact_etcd(cluster: Cluster) -> None:
    """Compact the cluster's etcd at its current revision (etcd's JSON gateway)."""
    port = cluster.env.get("BLUEGREEN_ETCD_PORT") or dotenv(cluster).get("BLUEGREEN_ETCD_PORT")
    base = f"http://127.0.0.1:{port or 2379}/v3/kv"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{base}/{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
            return answer

    revision = post("range", {"key": "AA==", "count_only": True})["header"]["revision"]
    post("compaction", {"revision": revision, "physical": True})


def dotenv(cluster: Cluster) -> dict[str, str]:
    env = cluster.kubeconfig.parent / "env"
    lines = env.read_text().splitlines() if env.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


async def test_a_watch_too_old_to_resume_lists_again(
    watched: tuple[Caches, Kube, Recorder], k: Kubectl, namespace: str, cluster: Cluster
) -> None:
    caches, _, recorder = watched
    cache = caches.deployments
    before = cache.relists
    # Resume the watch from a version compacted away: the API server answers 410
    # Gone, and the cache must list again and go on watching. On a cluster younger
    # than the API server's compaction interval nothing is compacted yet: do it.
    compact_etcd(cluster)
    # Set while the watches are stopped: a running one records every event's version
    # (bookmarks too) and would overwrite it before it resumes.
    await caches.all.stop()
    cache.versions[namespace] = "1"
    caches.all.start()
    k.apply(deployment(namespace, "after-gone", names.release_labels("shop")))
    await until("a relist", lambda: cache.relists > before)
    await until("the new object", lambda: cache.get(namespace, "after-gone") is not None)
    assert ("list", "deployments") in recorder.requests


async def test_our_own_writes_are_seen_at_once(
    watched: tuple[Caches, Kube, Recorder], namespace: str
) -> None:
    caches, kube, recorder = watched
    await kube.deployments.create(deployment(namespace, "mine", names.release_labels("shop")))
    # No watch event awaited: the create's response is in the cache already.
    assert caches.deployments.get(namespace, "mine") is not None
    await kube.deployments.scale(namespace, "mine", 2)
    scaled = caches.deployments.get(namespace, "mine")
    assert scaled is not None and scaled["spec"]["replicas"] == 2
    # The watch then delivers the create (older: ignored), the scale (the same
    # version: no news) and the controller's status updates (newer): the cache
    # must take only the last, and never go back to one replica.
    await until(
        "the controller's status update", lambda: ("deployments", "mine") in recorder.changes
    )
    current = caches.deployments.get(namespace, "mine")
    assert current is not None and current["spec"]["replicas"] == 2


async def test_our_writes_to_a_release_are_seen_at_once(
    watched: tuple[Caches, Kube, Recorder], k: Kubectl, namespace: str
) -> None:
    """Clearing a consumed action and setting finalizers: the next step reads the
    cache, and an annotation still there would be acted on again."""
    caches, kube, _ = watched
    body = release("shop", "v1", "http://127.0.0.1:1/", "V1")
    body["metadata"] |= {"namespace": namespace, "annotations": {ACTION_ANNOTATION: "promote@n1"}}
    k.apply(body)
    await until("the release", lambda: caches.releases.get(namespace, "shop") is not None)
    await kube.releases.clear_action(namespace, "shop", "promote@n1")
    cached = caches.releases.get(namespace, "shop")
    assert cached is not None
    assert ACTION_ANNOTATION not in (cached["metadata"].get("annotations") or {})
    await kube.releases.set_finalizers(namespace, "shop", [FINALIZER])
    cached = caches.releases.get(namespace, "shop")
    assert cached is not None and cached["metadata"].get("finalizers") == [FINALIZER]
    await kube.releases.set_finalizers(namespace, "shop", [])


async def test_a_list_larger_than_a_page_is_read_in_pages(
    watched: tuple[Caches, Kube, Recorder],
    k: Kubectl,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages bound the memory a relist needs; no object may fall between two pages."""
    caches, _, recorder = watched
    cache = caches.deployments
    for index in range(5):
        k.apply(deployment(namespace, f"paged-{index}", names.release_labels("shop")))
    await until("all five", lambda: len(cache.indexed(namespace, "shop")) == 5)
    monkeypatch.setattr(watch_cache, "LIST_PAGE_SIZE", 2)
    await caches.all.stop()
    cache.objects.clear()
    cache.by_index.clear()
    cache.versions[namespace] = ""
    lists_before = recorder.requests.count(("list", "deployments"))
    caches.all.start()
    await until("the relist", lambda: len(cache.indexed(namespace, "shop")) == 5)
    assert recorder.requests.count(("list", "deployments")) - lists_before >= 3
    # And the watch resumes from the pages' snapshot: a later object still arrives.
    k.apply(deployment(namespace, "paged-late", names.release_labels("shop")))
    await until("the late one", lambda: cache.get(namespace, "paged-late") is not None)
