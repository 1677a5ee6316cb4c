"""The real node runs the demo app: pods turn Ready, answer on their pod IP
from this machine, and a ClusterIP Service answers through kube-proxy. The last
test moves a Service's selector from v1 to v2 under continuous load and checks
that no request fails and traffic never goes back to v1.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Cluster, poll_until
from tests.e2e.conftest import NODE_LABEL, RealNode, app_pod_template
from tests.e2e.traffic import MAX_MIXED_S, LoadGenerator, analyse_switch, get

V1_TEXT = "Spacelift App V1"
V2_TEXT = "Spacelift App V2"

pytestmark = pytest.mark.node


def deployment(name: str, version: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": app_pod_template(version, labels),
        },
    }


def service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"port": 80, "targetPort": 5000, "protocol": "TCP"}],
        },
    }


def in_ns(namespace: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def ready_pods(kube_json: Callable[..., Any], namespace: str, selector: str) -> list[Any]:
    pods = kube_json("get", "pods", "-n", namespace, "-l", selector)["items"]
    return [
        p
        for p in pods
        if p.get("metadata", {}).get("deletionTimestamp") is None
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions", [])
        )
    ]


def test_node_is_a_real_kubelet(real_node: RealNode, kube_json: Callable[..., Any]) -> None:
    node = kube_json("get", "node", real_node.name)
    labels = node["metadata"].get("labels", {})
    annotations = node["metadata"].get("annotations", {})
    assert labels.get(NODE_LABEL) == "true"
    assert "kwok.x-k8s.io/node" not in annotations, "KWOK must leave the real node alone"
    assert {"key": NODE_LABEL, "value": "true", "effect": "NoSchedule"} in node["spec"]["taints"]
    info = node["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("containerd://")
    assert info["kubeletVersion"].startswith("v1.")
    if real_node.startup_seconds is not None:
        print(f"real node started in {real_node.startup_seconds:.1f}s")


def test_pod_serves_on_its_ip(
    real_node: RealNode,
    namespace: str,
    apply: Callable[[list[dict[str, Any]]], None],
    kube_json: Callable[..., Any],
) -> None:
    labels = {"app": "demo", "version": "v1"}
    created = time.monotonic()
    apply(in_ns(namespace, [deployment("demo-v1", "v1", 1, labels)]))
    pods = poll_until(
        "a Ready v1 pod on the real node",
        lambda: ready_pods(kube_json, namespace, "app=demo,version=v1"),
        timeout=120,
    )
    ready_after = time.monotonic() - created
    pod = pods[0]
    assert pod["spec"]["nodeName"] == real_node.name
    ip = pod["status"]["podIP"]
    home = get(ip, 5000, "/")
    assert home.ok, home
    assert home.body == V1_TEXT
    health = get(ip, 5000, "/healthz")
    assert health.ok and health.body == "ok", health
    print(f"pod Ready {ready_after:.1f}s after apply; pod IP {ip}")


def test_cluster_ip_service_answers_through_kube_proxy(
    real_node: RealNode,
    namespace: str,
    apply: Callable[[list[dict[str, Any]]], None],
    kube_json: Callable[..., Any],
) -> None:
    labels = {"app": "demo", "version": "v2"}
    apply(in_ns(namespace, [deployment("demo-v2", "v2", 2, labels), service("demo", labels)]))
    poll_until(
        "2 Ready v2 pods",
        lambda: len(ready_pods(kube_json, namespace, "app=demo,version=v2")) == 2,
        timeout=120,
    )
    cluster_ip = kube_json("get", "service", "demo", "-n", namespace)["spec"]["clusterIP"]
    # kube-proxy programs the rules shortly after the EndpointSlice is ready.
    answer = poll_until(
        f"the ClusterIP {cluster_ip}:80 to answer",
        lambda: (s := get(cluster_ip, 80, "/", timeout=1)).ok and s,
        timeout=60,
    )
    assert answer.body.startswith(V2_TEXT)
    # Both endpoints are in rotation: new connections reach each pod.
    pod_ips = {p["status"]["podIP"] for p in ready_pods(kube_json, namespace, "app=demo")}
    assert len(pod_ips) == 2
    for _ in range(20):
        sample = get(cluster_ip, 80, "/")
        assert sample.ok and sample.body.startswith(V2_TEXT), sample


def test_selector_switch_under_load_loses_nothing(
    real_node: RealNode,
    cluster: Cluster,
    namespace: str,
    apply: Callable[[list[dict[str, Any]]], None],
    kube_json: Callable[..., Any],
) -> None:
    v1 = {"app": "shop", "version": "v1"}
    v2 = {"app": "shop", "version": "v2"}
    apply(
        in_ns(
            namespace,
            [
                deployment("shop-v1", "v1", 3, v1),
                deployment("shop-v2", "v2", 3, v2),
                service("shop", v1),
            ],
        )
    )
    poll_until(
        "3 Ready v1 and 3 Ready v2 pods",
        lambda: (
            len(ready_pods(kube_json, namespace, "app=shop,version=v1")) == 3
            and len(ready_pods(kube_json, namespace, "app=shop,version=v2")) == 3
        ),
        timeout=180,
    )
    cluster_ip = kube_json("get", "service", "shop", "-n", namespace)["spec"]["clusterIP"]
    poll_until(
        "the stable Service to answer V1",
        lambda: (s := get(cluster_ip, 80, "/", timeout=1)).ok and V1_TEXT in s.body,
        timeout=60,
    )
    with LoadGenerator(cluster_ip, 80, workers=4, max_seconds=120) as load:
        poll_until("some V1 traffic", lambda: load.count() >= 200, timeout=30)
        switch_at = time.monotonic()
        subprocess.run(
            [
                "kubectl",
                "patch",
                "service",
                "shop",
                "-n",
                namespace,
                "--type=merge",
                "-p",
                '{"spec":{"selector":{"app":"shop","version":"v2"}}}',
            ],
            env=cluster.env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        poll_until("V2 answers through the stable Service", lambda: load.seen(V2_TEXT), timeout=30)
        # Keep the load on for a while after the switch so flapping would show.
        target = load.count() + 1000
        poll_until("1000 requests after the switch", lambda: load.count() >= target, timeout=60)
        samples = load.stop()
    report = analyse_switch(samples, switch_at, old=V1_TEXT, new=V2_TEXT)
    print(f"selector switch under load: {report.summary()}")
    assert report.failed == 0, report.failures
    assert report.mixed_s < MAX_MIXED_S, report.summary()
    assert report.first_new_after_s is not None
