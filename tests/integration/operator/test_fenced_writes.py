"""Writes that a deposed leader may still attempt, against the real API server.

A replica without the Lease must not send a write at all, and a status write
must land only over the status it was decided from.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bluegreen.adapters.kube import Kube, StatusChangedError
from bluegreen.adapters.kube_rest import KubeError, KubeRest, NotLeadingError, make_api_client
from tests.conftest import Cluster
from tests.integration.harness import Kubectl, release

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="session")]


class Switch:
    """The fence as a test controls it."""

    def __init__(self) -> None:
        self.leading = True


@pytest.fixture
async def fenced(cluster: Cluster) -> AsyncIterator[tuple[Kube, Switch]]:
    switch = Switch()
    kube = Kube(KubeRest(await make_api_client(str(cluster.kubeconfig)), lambda: switch.leading))
    yield kube, switch
    await kube.close()


def _release(k: Kubectl, namespace: str) -> dict[str, Any]:
    body = release("shop", "v1", "http://127.0.0.1:1/", "V1")
    body["metadata"]["namespace"] = namespace
    k.apply(body)
    found: dict[str, Any] = k.json("get", "bluegreenrelease", "shop", "-n", namespace)
    return found


async def test_a_replica_without_the_lease_sends_no_write(
    k: Kubectl, namespace: str, fenced: tuple[Kube, Switch]
) -> None:
    kube, switch = fenced
    name = f"probe-{uuid.uuid4().hex[:6]}"
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    switch.leading = False
    with pytest.raises(NotLeadingError):
        await kube.rest.create(path, config_map)
    assert k.json("get", "configmap", name, "-n", namespace) is None
    # Reads go on: a standby keeps its view of the world.
    assert await kube.rest.get(f"/api/v1/namespaces/{namespace}") is not None
    switch.leading = True
    assert await kube.rest.create(path, config_map) is not None


async def test_status_is_written_over_a_metadata_change_but_not_over_another_writer(
    k: Kubectl, namespace: str, fenced: tuple[Kube, Switch]
) -> None:
    kube, _ = fenced
    read = _release(k, namespace)
    await kube.releases.patch_status(namespace, "shop", {"phase": "Pending", "message": "a"})
    read = await kube.releases.get(namespace, "shop") or {}
    # A human annotates the release after our read: the status is unchanged.
    k.run("annotate", "bluegreenrelease", "shop", "-n", namespace, "team=shop")
    await kube.releases.patch_status_as_read(read, {"message": "ours"}, attempts=3)
    assert (await kube.releases.get(namespace, "shop") or {})["status"]["message"] == "ours"
    # Another writer (a second operator) changes the status after our read.
    read = await kube.releases.get(namespace, "shop") or {}
    await kube.releases.patch_status(namespace, "shop", {"message": "theirs"})
    with pytest.raises(StatusChangedError):
        await kube.releases.patch_status_as_read(read, {"message": "stale"}, attempts=3)
    assert (await kube.releases.get(namespace, "shop") or {})["status"]["message"] == "theirs"


async def test_a_delete_lands_only_on_the_object_as_observed(
    k: Kubectl, namespace: str, fenced: tuple[Kube, Switch]
) -> None:
    kube, _ = fenced
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "probe", "namespace": namespace},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    seen = k.json("get", "service", "probe", "-n", namespace)["metadata"]
    # Changed since it was observed: a label written by someone else.
    k.run("label", "service", "probe", "-n", namespace, "team=payments")
    with pytest.raises(KubeError) as stale:
        await kube.services.delete(
            namespace, "probe", uid=seen["uid"], resource_version=seen["resourceVersion"]
        )
    assert stale.value.status == 409
    assert k.json("get", "service", "probe", "-n", namespace) is not None
    # Another object under the same name: never deleted by the first one's uid.
    k.run("delete", "service", "probe", "-n", namespace)
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "probe", "namespace": namespace},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    with pytest.raises(KubeError) as other:
        await kube.services.delete(namespace, "probe", uid=seen["uid"])
    assert other.value.status == 409
    current = k.json("get", "service", "probe", "-n", namespace)["metadata"]
    assert await kube.services.delete(
        namespace, "probe", uid=current["uid"], resource_version=current["resourceVersion"]
    )
    assert k.json("get", "service", "probe", "-n", namespace) is None
