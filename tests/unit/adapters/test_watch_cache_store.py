"""The watch cache's store: versions only move forward, indexes follow labels,
and objects are slimmed to what the observer reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bluegreen.adapters.caches import (
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    KOPF_DIFFBASE_ANNOTATION,
    RELEASES,
    slim_deployment,
    slim_pod,
    slim_release,
)
from bluegreen.adapters.kube_rest import KubeRest
from bluegreen.adapters.watch_cache import CacheSet, WatchCache, is_newer
from bluegreen.api.v1alpha1 import RELEASE_LABEL


def obj(name: str, version: str, release: str = "shop", **extra: Any) -> dict[str, Any]:
    labels = {RELEASE_LABEL: release} if release else {}
    meta = {"name": name, "namespace": "ns", "resourceVersion": version, "labels": labels}
    return {"metadata": meta, **extra}


def cache() -> WatchCache:
    # The store never touches the client; the list/watch loop is tested on the cluster.
    return WatchCache(KubeRest.__new__(KubeRest), DEPLOYMENTS)


def test_versions_are_compared_as_numbers() -> None:
    assert is_newer("10", "9")
    assert not is_newer("9", "10")
    assert not is_newer("10", "10")
    assert is_newer("10", "10", or_same=True)
    assert is_newer("not-a-number", "10")


def test_an_older_event_never_replaces_a_newer_object() -> None:
    store = cache()
    store.put(obj("a", "20", spec={"replicas": 2}))
    assert not store._store(slim_deployment(obj("a", "19", spec={"replicas": 1})))
    current = store.get("ns", "a")
    assert current is not None and current["spec"]["replicas"] == 2
    assert store._store(slim_deployment(obj("a", "21", spec={"replicas": 3})))
    current = store.get("ns", "a")
    assert current is not None and current["spec"]["replicas"] == 3


def test_the_index_follows_the_release_label() -> None:
    store = cache()
    store.put(obj("a", "1"))
    store.put(obj("b", "2"))
    assert [i["metadata"]["name"] for i in store.indexed("ns", "shop")] == ["a", "b"]
    store.put(obj("a", "3", release="cart"))
    assert [i["metadata"]["name"] for i in store.indexed("ns", "shop")] == ["b"]
    assert [i["metadata"]["name"] for i in store.indexed("ns", "cart")] == ["a"]
    assert store.indexed("other-namespace", "shop") == []


def test_a_delete_removes_only_what_it_saw() -> None:
    store = cache()
    store.put(obj("a", "5"))
    store._remove(obj("a", "4"))  # a delete older than what we hold: the object came back
    assert store.get("ns", "a") is not None
    store._remove(obj("a", "6"))
    assert store.get("ns", "a") is None
    assert store.indexed("ns", "shop") == []


def test_slimming_keeps_what_the_observer_reads_only() -> None:
    raw = obj(
        "web-abc",
        "7",
        spec={
            "replicas": 3,
            "template": {"spec": {"containers": [{"image": "app:2", "env": [{"name": "X"}]}]}},
        },
        status={"readyReplicas": 2, "availableReplicas": 2, "conditions": [{"type": "x"}]},
    )
    raw["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    raw["metadata"]["ownerReferences"] = [
        {"kind": "BlueGreenRelease", "name": "shop", "uid": "u1", "controller": True},
        {"kind": "Other", "name": "x", "uid": "u2"},
    ]
    slim = slim_deployment(raw)
    assert "managedFields" not in slim["metadata"]
    assert slim["metadata"]["ownerReferences"] == [
        {"kind": "BlueGreenRelease", "name": "shop", "uid": "u1", "controller": True}
    ]
    assert slim["spec"] == {
        "replicas": 3,
        "template": {"spec": {"containers": [{"image": "app:2"}]}},
    }
    assert slim["status"] == {"readyReplicas": 2, "availableReplicas": 2}


def test_a_pod_keeps_its_restarts_summed() -> None:
    pod = obj("p", "1", status={"containerStatuses": [{"restartCount": 2}, {"restartCount": 3}]})
    assert slim_pod(pod)["status"] == {"containerStatuses": [{"restartCount": 5}]}


def test_a_release_loses_kopfs_copy_of_its_spec_but_keeps_our_annotations() -> None:
    release = obj("shop", "3", spec={"replicas": 1})
    release["metadata"]["annotations"] = {
        KOPF_DIFFBASE_ANNOTATION: '{"spec": {}}',
        "bluegreen.dev/action": "promote",
    }
    release["metadata"]["managedFields"] = [{}]
    slim = slim_release(release)
    assert slim["metadata"]["annotations"] == {"bluegreen.dev/action": "promote"}
    assert "managedFields" not in slim["metadata"]
    assert slim["spec"] == {"replicas": 1}


def test_paths_cover_the_cluster_or_one_namespace() -> None:
    rest = KubeRest.__new__(KubeRest)
    assert WatchCache(rest, DEPLOYMENTS)._path("") == "/apis/apps/v1/deployments"
    assert WatchCache(rest, DEPLOYMENTS)._path("ns") == "/apis/apps/v1/namespaces/ns/deployments"
    assert (
        WatchCache(rest, ENDPOINT_SLICES)._path("ns")
        == "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices"
    )
    assert WatchCache(rest, RELEASES)._path("") == "/apis/bluegreen.dev/v1alpha1/bluegreenreleases"


def test_a_copy_stands_for_a_read_only_while_it_is_young() -> None:
    now = [100.0]
    store = WatchCache(KubeRest.__new__(KubeRest), DEPLOYMENTS, clock=lambda: now[0])
    assert store._store(slim_deployment(obj("a", "1")))
    now[0] = 100.5
    young = store.recent("ns", "a", max_age=1.0)
    assert young is not None and young["metadata"]["resourceVersion"] == "1"
    now[0] = 101.5
    assert store.recent("ns", "a", max_age=1.0) is None  # old: read it instead
    assert store._store(slim_deployment(obj("a", "2")))  # a newer version arrives
    assert store.recent("ns", "a", max_age=1.0) is not None
    assert not store._store(slim_deployment(obj("a", "2")))  # the same again is no news
    now[0] = 103.0
    assert store.recent("ns", "a", max_age=1.0) is None
    assert store._store(slim_deployment(obj("a", "3")))
    assert store._remove(slim_deployment(obj("a", "4")))
    assert store.recent("ns", "a", max_age=1.0) is None  # gone: nothing stands for it
    assert store.arrived == {}


def test_waiting_for_synced_caches_gives_the_loop_no_turn() -> None:
    # Every step awaits this first: with a thousand releases each loop turn can last
    # long, so a step whose caches are synced must go on without yielding.
    caches = CacheSet([cache(), cache()])
    for each in caches.caches:
        each.synced.set()
    step = caches.wait_synced()
    with pytest.raises(StopIteration):
        step.send(None)  # finished on its first run, never suspended


def test_waiting_for_an_unsynced_cache_waits_for_it() -> None:
    async def scenario() -> None:
        synced, pending = cache(), cache()
        synced.synced.set()
        waiting = asyncio.ensure_future(CacheSet([synced, pending]).wait_synced())
        await asyncio.sleep(0)
        assert not waiting.done()
        pending.synced.set()
        await waiting

    asyncio.run(scenario())
