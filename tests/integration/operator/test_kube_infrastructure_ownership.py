"""KubeInfrastructure (Services through plain API calls) writes and deletes only
Services of its release, adopts only on request; against the real API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_infrastructure import KubeInfrastructure
from bluegreen.adapters.kube_rest import KubeRest, make_api_client
from bluegreen.core import names
from bluegreen.core.infrastructure import InfrastructureInputs
from tests.conftest import Cluster
from tests.integration.harness import Kubectl

# The client fixture lives on the session loop; the tests must run on it too.
pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
async def infra(cluster: Cluster) -> AsyncIterator[KubeInfrastructure]:
    kube = Kube(KubeRest(await make_api_client(str(cluster.kubeconfig))))
    yield KubeInfrastructure(kube)
    await kube.close()


def inputs(namespace: str, target_port: int | str = 5000) -> InfrastructureInputs:
    return InfrastructureInputs(
        release="shop",
        release_namespace=namespace,
        namespace=namespace,
        create_namespace=False,
        service_name="shop",
        service_type="ClusterIP",
        service_port=80,
        target_port=target_port,
        preview_service_name="shop-preview",
        labels=names.release_labels("shop"),
    )


def foreign(k: Kubectl, namespace: str, name: str, **annotations: str) -> dict[str, Any]:
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"team": "legacy"},
                "annotations": annotations,
            },
            "spec": {"ports": [{"port": 8443, "targetPort": 8443}], "selector": {"app": "old"}},
        }
    )
    found: dict[str, Any] = k.json("get", "svc", name, "-n", namespace)
    return found


async def test_a_foreign_service_is_refused_and_left_untouched(
    infra: KubeInfrastructure, k: Kubectl, namespace: str
) -> None:
    before = foreign(k, namespace, "shop-preview")
    with pytest.raises(InfrastructureError, match=r"^ServiceNotOwned: Service .*/shop-preview"):
        await infra.apply(inputs(namespace))
    after = k.json("get", "svc", "shop-preview", "-n", namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    await infra.destroy(inputs(namespace))
    assert k.json("get", "svc", "shop-preview", "-n", namespace), "destroy left it alone"
    assert not k.json("get", "svc", "shop", "-n", namespace), "ours was deleted"


async def test_an_annotated_service_is_adopted_in_place(
    infra: KubeInfrastructure, k: Kubectl, namespace: str
) -> None:
    before = foreign(k, namespace, "shop", **{names.ADOPT_ANNOTATION: "shop"})
    await infra.apply(inputs(namespace, target_port="http"))
    after = k.json("get", "svc", "shop", "-n", namespace)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["labels"][names.MANAGED_BY_LABEL] == names.MANAGED_BY_VALUE
    assert after["metadata"]["labels"][names.RELEASE_LABEL] == "shop"
    assert [(p["port"], p["targetPort"]) for p in after["spec"]["ports"]] == [(80, "http")]
    assert after["spec"]["selector"] == {"app": "old"}, "the selector is not ours to write here"

    await infra.destroy(inputs(namespace))
    assert not k.json("get", "svc", "shop", "-n", namespace), "adopted, so ours to delete"


async def test_an_annotation_for_another_release_adopts_nothing(
    infra: KubeInfrastructure, k: Kubectl, namespace: str
) -> None:
    foreign(k, namespace, "shop", **{names.ADOPT_ANNOTATION: "other"})
    with pytest.raises(InfrastructureError, match=r"^ServiceNotOwned:"):
        await infra.apply(inputs(namespace))
    labels = k.json("get", "svc", "shop", "-n", namespace)["metadata"]["labels"]
    assert labels == {"team": "legacy"}
