"""The install manifests as files: they build, and they say what the design asks.

No cluster needed (only the toolchain's kubectl, for its built-in kustomize).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.harness import REPO
from tests.integration.manifests.conftest import MANIFESTS, SERVICE_ACCOUNT, SYSTEM_NAMESPACE


def _build(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def built(toolchain: dict[str, str]) -> list[dict[str, Any]]:
    return _build(MANIFESTS)


@pytest.fixture(scope="module")
def namespaced(toolchain: dict[str, str]) -> list[dict[str, Any]]:
    return _build(MANIFESTS / "namespaced")


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_crd_copy_matches_the_source() -> None:
    """kustomize refuses files outside its root, so manifests/crd/ holds a copy;
    ``make manifests`` writes both from operator/bluegreen/api."""
    source = REPO / "crds" / "bluegreenreleases.bluegreen.dev.yaml"
    copy = MANIFESTS / "crd" / "bluegreenreleases.bluegreen.dev.yaml"
    assert copy.read_bytes() == source.read_bytes(), "manifests/crd/ is stale: run `make manifests`"


def test_everything_is_there(built: list[dict[str, Any]]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in built}
    assert kinds == {
        ("CustomResourceDefinition", "bluegreenreleases.bluegreen.dev"),
        ("Namespace", SYSTEM_NAMESPACE),
        ("ServiceAccount", SERVICE_ACCOUNT),
        ("ClusterRole", "bluegreen-operator"),
        ("ClusterRoleBinding", "bluegreen-operator"),
        ("Role", "bluegreen-operator-terraform-state"),
        ("RoleBinding", "bluegreen-operator-terraform-state"),
        ("Role", "bluegreen-operator-leader-election"),
        ("RoleBinding", "bluegreen-operator-leader-election"),
        ("Deployment", "bluegreen-operator"),
        ("Service", "bluegreen-operator-metrics"),
        ("PodDisruptionBudget", "bluegreen-operator"),
        ("FlowSchema", "bluegreen-operator-leader-election"),
    }
    for obj in built:
        cluster_scoped = (
            "CustomResourceDefinition",
            "Namespace",
            "ClusterRole",
            "ClusterRoleBinding",
            "FlowSchema",
        )
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == SYSTEM_NAMESPACE, obj["metadata"]


def test_rbac_has_no_wildcards(built: list[dict[str, Any]]) -> None:
    for obj in built:
        if obj["kind"] not in ("ClusterRole", "Role"):
            continue
        for rule in obj["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], f"{obj['kind']}/{obj['metadata']['name']}: {rule}"
            assert "resourceNames" not in rule or rule["resourceNames"]


def test_secrets_only_in_the_state_namespace(built: list[dict[str, Any]]) -> None:
    cluster_role = _one(built, "ClusterRole", "bluegreen-operator")
    assert not any("secrets" in r["resources"] for r in cluster_role["rules"])
    role = _one(built, "Role", "bluegreen-operator-terraform-state")
    assert role["metadata"]["namespace"] == SYSTEM_NAMESPACE
    bindings = [o for o in built if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": SYSTEM_NAMESPACE}
        ]


def test_deployment_is_two_hardened_replicas_electing_a_leader(
    built: list[dict[str, Any]],
) -> None:
    deploy = _one(built, "Deployment", "bluegreen-operator")
    spec = deploy["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = spec["template"]["spec"]
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pdb = _one(built, "PodDisruptionBudget", "bluegreen-operator")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == spec["selector"]
    assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    assert pod["terminationGracePeriodSeconds"] > 320, "must outlast one Terraform run"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "bluegreen-operator:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "--leader-elect" in container["args"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 9090, "healthz": 8080}
    assert "--liveness-port=8080" in container["args"]
    assert "--metrics-port=9090" in container["args"]
    assert not any(a.startswith("--namespace") for a in container["args"]), "cluster-wide"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert any(e["name"] == "POD_NAME" for e in container["env"])
    assert env["BLUEGREEN_TERRAFORM_WORKDIR"].startswith("/tmp/")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert set(container["resources"]) == {"requests", "limits"}


def test_metrics_service_targets_the_operator(built: list[dict[str, Any]]) -> None:
    svc = _one(built, "Service", "bluegreen-operator-metrics")
    deploy = _one(built, "Deployment", "bluegreen-operator")
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    assert svc["spec"]["ports"][0]["port"] == 9090


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_samples_are_the_demo_app(version: str) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "samples" / f"{version}.yaml").read_text()))
    doc = docs[-1]
    assert doc["kind"] == "BlueGreenRelease"
    spec = doc["spec"]
    assert doc["metadata"]["name"] == "spacelift-app"
    assert spec["replicas"] == 3
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == f"spacelift-app:{version}"
    assert container["imagePullPolicy"] == "Never"
    assert {"name": "APP_VERSION", "value": version} in container["env"]
    assert container["ports"] == [{"containerPort": 5000}]
    assert spec["service"] == {
        "name": "spacelift-app",
        "type": "ClusterIP",
        "port": 80,
        "targetPort": 5000,
    }
    assert spec["previewService"] == {"name": "spacelift-app-preview"}
    (smoke,) = spec["checks"]["smoke"]
    assert smoke["http"]["path"] == "/"
    assert smoke["http"]["expectBody"] == version.upper()
    assert 0 < spec["hold"]["seconds"] <= 300


CLUSTER_SCOPED = {"namespaces", "customresourcedefinitions"}


def _rules(role: dict[str, Any]) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    return sorted(
        (tuple(r["apiGroups"]), tuple(r["resources"]), tuple(sorted(r["verbs"])))
        for r in role["rules"]
    )


def test_namespaced_role_is_the_cluster_role_minus_cluster_scope(
    built: list[dict[str, Any]], namespaced: list[dict[str, Any]]
) -> None:
    cluster_role = _one(built, "ClusterRole", "bluegreen-operator")
    role = _one(namespaced, "Role", "bluegreen-operator")
    read = _one(namespaced, "ClusterRole", "bluegreen-operator-cluster-read")
    namespaced_rules = [r for r in _rules(cluster_role) if not CLUSTER_SCOPED & set(r[1])]
    assert _rules(role) == namespaced_rules
    assert _rules(read) == [r for r in _rules(cluster_role) if CLUSTER_SCOPED & set(r[1])]
    assert all(set(r[2]) <= {"list", "watch"} for r in _rules(read))


def test_namespaced_overlay_has_no_cluster_wide_write(namespaced: list[dict[str, Any]]) -> None:
    cluster_roles = [o["metadata"]["name"] for o in namespaced if o["kind"] == "ClusterRole"]
    assert cluster_roles == ["bluegreen-operator-cluster-read"]
    deploy = _one(namespaced, "Deployment", "bluegreen-operator")
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    watched = [a.removeprefix("--namespace=") for a in args if a.startswith("--namespace=")]
    roles = {
        o["metadata"]["namespace"]
        for o in namespaced
        if o["kind"] == "Role" and o["metadata"]["name"] == "bluegreen-operator"
    }
    assert set(watched) == roles


def test_the_election_lease_is_the_only_one_named_for_update(
    built: list[dict[str, Any]],
) -> None:
    role = _one(built, "Role", "bluegreen-operator-leader-election")
    by_verbs = {tuple(r["verbs"]): r for r in role["rules"]}
    assert by_verbs[("get", "update")]["resourceNames"] == ["bluegreen-operator"]
    unnamed = by_verbs[("create", "list")]
    assert "resourceNames" not in unnamed, "create can't be limited by name, list reads the group"
    binding = _one(built, "RoleBinding", "bluegreen-operator-leader-election")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
