"""The local cluster is a real control plane, not a mock.

Each test exercises a component that a fake API server would not have: the
Deployment and ReplicaSet controllers, the scheduler, the EndpointSlice
controller, the garbage collector, RBAC with service-account tokens, and CEL
validation of custom resources.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.cluster

POD_CIDR = ipaddress.ip_network("198.18.0.0/17")
APP_LABELS = {"app": "web"}


def deployment(name: str, replicas: int, labels: dict[str, str]) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="app",
                            image="registry.invalid/web:v1",
                            ports=[client.V1ContainerPort(container_port=5000)],
                        )
                    ]
                ),
            ),
        ),
    )


def is_available(dep: client.V1Deployment, replicas: int) -> bool:
    st = dep.status
    conditions = {c.type: c.status for c in (st.conditions or [])}
    return bool(
        st.observed_generation == dep.metadata.generation
        and st.updated_replicas == replicas
        and st.ready_replicas == replicas
        and st.available_replicas == replicas
        and conditions.get("Available") == "True"
    )


def pod_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def test_deployment_becomes_available_with_real_replicasets_and_scheduled_pods(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", 3, APP_LABELS))

    def available() -> client.V1Deployment | None:
        d = apps.read_namespaced_deployment("web", namespace)
        return d if is_available(d, 3) else None

    dep = wait_until("Deployment web to be Available with 3 replicas", available)
    assert dep.status.replicas == 3

    # The ReplicaSet controller made exactly one ReplicaSet, owned by the Deployment.
    rss = apps.list_namespaced_replica_set(namespace).items
    assert len(rss) == 1
    rs = rss[0]
    assert [(o.kind, o.name, o.controller) for o in rs.metadata.owner_references] == [
        ("Deployment", "web", True)
    ]
    assert rs.status.ready_replicas == 3
    assert "pod-template-hash" in rs.metadata.labels

    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    nodes = {n.metadata.name for n in core.list_node(label_selector="type=kwok").items}
    for pod in pods:
        # Owned by the ReplicaSet, bound by the scheduler to a KWOK node, run by KWOK.
        assert pod.metadata.owner_references[0].name == rs.metadata.name
        assert pod.spec.node_name in nodes
        assert any(c.type == "PodScheduled" and c.status == "True" for c in pod.status.conditions)
        assert pod.status.phase == "Running"
        assert pod_ready(pod)
        assert ipaddress.ip_address(pod.status.pod_ip) in POD_CIDR
    assert len({p.status.pod_ip for p in pods}) == 3

    # Pods spread over nodes: the scheduler's spreading scores really ran.
    assert len({p.spec.node_name for p in pods}) >= 2


def test_service_endpointslices_list_the_ready_pods(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", 3, APP_LABELS))
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1ServiceSpec(
                selector=APP_LABELS,
                ports=[client.V1ServicePort(port=80, target_port=5000)],
            ),
        ),
    )
    svc = core.read_namespaced_service("web", namespace)
    assert ipaddress.ip_address(svc.spec.cluster_ip) in ipaddress.ip_network("198.19.0.0/16")

    def ready_pod_ips() -> set[str]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
        return {p.status.pod_ip for p in pods if pod_ready(p)}

    def slice_ips() -> set[str]:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        ).items
        return {
            addr
            for s in slices
            for ep in s.endpoints or []
            if ep.conditions and ep.conditions.ready
            for addr in ep.addresses
        }

    wait_until(
        "EndpointSlices of Service web to list the 3 ready pods",
        lambda: len(ips := ready_pod_ips()) == 3 and slice_ips() == ips,
    )
    slices = discovery.list_namespaced_endpoint_slice(
        namespace, label_selector="kubernetes.io/service-name=web"
    ).items
    targets = {ep.target_ref.name for s in slices for ep in s.endpoints}
    pods = {p.metadata.name for p in core.list_namespaced_pod(namespace).items}
    assert targets == pods
    assert {p.port for s in slices for p in s.ports} == {5000}
    assert all(
        s.metadata.labels["endpointslice.kubernetes.io/managed-by"]
        == "endpointslice-controller.k8s.io"
        for s in slices
    )


def test_deleting_a_deployment_garbage_collects_its_replicasets_and_pods(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", 3, APP_LABELS))
    wait_until(
        "3 running pods",
        lambda: len(core.list_namespaced_pod(namespace, label_selector="app=web").items) == 3,
    )

    apps.delete_namespaced_deployment(
        "web", namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )
    # Nobody but the garbage collector deletes the ReplicaSet; KWOK's pod-delete
    # stage then plays the kubelet confirming each pod's termination.
    wait_until(
        "ReplicaSets to be garbage-collected",
        lambda: not apps.list_namespaced_replica_set(namespace).items,
    )
    wait_until(
        "pods to be garbage-collected", lambda: not core.list_namespaced_pod(namespace).items
    )


def test_service_account_without_rbac_is_refused_until_granted(
    api_client: Any, cluster: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    core = client.CoreV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    token = core.create_namespaced_service_account_token(
        "nobody",
        namespace,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        ),
    ).status.token

    conf = client.Configuration()
    conf.host = api_client.configuration.host
    conf.ssl_ca_cert = api_client.configuration.ssl_ca_cert
    conf.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(conf) as sa_client:
        sa_core = client.CoreV1Api(sa_client)
        with pytest.raises(ApiException) as refused:
            sa_core.list_namespaced_pod(namespace)
        # 403, not 401: the token authenticated, RBAC said no.
        assert refused.value.status == 403
        assert f"system:serviceaccount:{namespace}:nobody" in refused.value.body

        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="pod-reader"),
                rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="pod-reader"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"
                ),
                subjects=[
                    client.RbacV1Subject(kind="ServiceAccount", name="nobody", namespace=namespace)
                ],
            ),
        )

        def allowed() -> bool:
            try:
                sa_core.list_namespaced_pod(namespace)
            except ApiException as exc:
                if exc.status != 403:
                    raise
                return False
            return True

        wait_until("the RoleBinding to grant pod listing", allowed, timeout=30)
        # Still nothing beyond the grant.
        with pytest.raises(ApiException) as still_refused:
            sa_core.list_namespaced_secret(namespace)
        assert still_refused.value.status == 403


def test_crd_cel_validation_rejects_a_bad_object_with_the_rule_message(
    api_client: Any, namespace: str, wait_until: Callable[..., Any]
) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    group = f"{uuid.uuid4().hex[:8]}.test.bluegreen.dev"
    message = "minReplicas must not exceed maxReplicas"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"scalers.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "scalers", "singular": "scaler", "kind": "Scaler"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "minReplicas": {"type": "integer"},
                                        "maxReplicas": {"type": "integer"},
                                    },
                                    "x-kubernetes-validations": [
                                        {
                                            "rule": "self.minReplicas <= self.maxReplicas",
                                            "message": message,
                                        }
                                    ],
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    ext.create_custom_resource_definition(crd)
    try:

        def established() -> bool:
            got = ext.read_custom_resource_definition(crd["metadata"]["name"])
            return any(
                c.type == "Established" and c.status == "True" for c in got.status.conditions or []
            )

        wait_until("the CRD to be Established", established, timeout=30)

        def obj(name: str, lo: int, hi: int) -> dict[str, Any]:
            return {
                "apiVersion": f"{group}/v1",
                "kind": "Scaler",
                "metadata": {"name": name},
                "spec": {"minReplicas": lo, "maxReplicas": hi},
            }

        def create(body: dict[str, Any]) -> Any:
            return custom.create_namespaced_custom_object(group, "v1", namespace, "scalers", body)

        # Discovery of a new CRD takes a moment: retry until the API serves it.
        def served() -> bool:
            try:
                create(obj("good", 1, 3))
            except ApiException as exc:
                if exc.status == 404:
                    return False
                raise
            return True

        wait_until("the custom resource to be served", served, timeout=30)
        with pytest.raises(ApiException) as rejected:
            create(obj("bad", 5, 2))
        assert rejected.value.status == 422
        assert message in rejected.value.body
        with pytest.raises(ApiException):
            custom.get_namespaced_custom_object(group, "v1", namespace, "scalers", "bad")
    finally:
        ext.delete_custom_resource_definition(crd["metadata"]["name"])
