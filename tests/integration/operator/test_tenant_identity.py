"""Every release has its own Terraform state, even when the legacy key was ambiguous:
the real operator process, real Terraform 1.5.7 and the real provider on the local
cluster."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen.core import names
from tests.conftest import Cluster
from tests.integration.conftest import _up
from tests.integration.harness import REPO, App, Kubectl, Operator, Release, release, wait_for

pytestmark = [pytest.mark.terraform, pytest.mark.cluster]

STATE_NAMESPACE = "bluegreen-system"


@pytest.fixture
def twin_namespaces(k: Kubectl) -> Iterator[tuple[str, str]]:
    """``shop-<rand>`` and ``shop-<rand>-a``: releases ``a-b`` and ``b`` in them had
    the same legacy state key, ``shop-<rand>-a-b``."""
    shop = f"shop-{uuid.uuid4().hex[:6]}"
    pair = (shop, f"{shop}-a")
    for namespace in pair:
        k.run("create", "namespace", namespace)
    yield pair
    for namespace in pair:
        k.run("delete", "namespace", namespace, "--wait=false", check=False)


def _operator(cluster: Cluster, k: Kubectl, tmp_path: Path, *namespaces: str) -> Operator:
    k.run("create", "namespace", STATE_NAMESPACE, check=False)
    extra = [arg for ns in namespaces[1:] for arg in ("--namespace", ns)]
    process = Operator(
        cluster.env,
        namespaces[0],
        tmp_path / "operator.log",
        *extra,
        "--infrastructure",
        "terraform",
        "--drift-interval",
        "0",
        "--terraform-timeout",
        "60",
    )
    process.start()
    wait_for("operator metrics endpoint", lambda: _up(process), timeout=30)
    return process


def _uids(k: Kubectl, namespace: str, *services: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in services:
        svc = k.json("get", "svc", name, "-n", namespace)
        found[name] = svc["metadata"]["uid"] if svc else None
    return found


def _secret(k: Kubectl, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = k.json(
        "get", "secret", f"tfstate-default-{key}", "-n", STATE_NAMESPACE
    )
    return found


def _forget(k: Kubectl, *keys: str) -> None:
    for key in keys:
        k.run("delete", "secret", f"tfstate-default-{key}", "-n", STATE_NAMESPACE, check=False)
        k.run("delete", "lease", f"lock-tfstate-default-{key}", "-n", STATE_NAMESPACE, check=False)


def _body(name: str, app: App, **kw: Any) -> dict[str, Any]:
    return release(name, "v1", app.url, "V1", replicas=1, **kw)


def test_the_legacy_collision_pair_gets_two_states_and_deletes_independently(
    cluster: Cluster,
    k: Kubectl,
    twin_namespaces: tuple[str, str],
    tmp_path: Path,
    apps: dict[str, App],
) -> None:
    shop, shop_a = twin_namespaces
    assert names.legacy_state_key(shop, "a-b") == names.legacy_state_key(shop_a, "b")
    keys = (names.state_key(shop, "a-b"), names.state_key(shop_a, "b"))
    operator = _operator(cluster, k, tmp_path, shop, shop_a)
    first, second = Release(k, shop, "a-b"), Release(k, shop_a, "b")
    try:
        first.apply(_body("a-b", apps["v1"]))
        second.apply(_body("b", apps["v1"]))
        first.wait_condition("Ready", timeout=180)
        second.wait_condition("Ready", timeout=180)
        assert first.status()["phase"] == second.status()["phase"] == "Complete"
        first_uids = _uids(k, shop, "a-b", "a-b-preview")
        second_uids = _uids(k, shop_a, "b", "b-preview")
        assert None not in first_uids.values() and None not in second_uids.values()
        for namespace, svc, owner in ((shop, "a-b", "a-b"), (shop_a, "b", "b")):
            labels = k.json("get", "svc", svc, "-n", namespace)["metadata"]["labels"]
            assert labels[names.RELEASE_LABEL] == owner
        assert _secret(k, keys[0]) and _secret(k, keys[1]), "one state Secret each"
        assert _secret(k, names.legacy_state_key(shop, "a-b")) is None

        k.run("delete", "bgr/b", "-n", shop_a, "--timeout=120s")
        wait_for(
            "b's Services destroyed",
            lambda: _uids(k, shop_a, "b", "b-preview") == {"b": None, "b-preview": None},
            timeout=60,
        )
        assert _uids(k, shop, "a-b", "a-b-preview") == first_uids
        assert first.condition("Ready")["status"] == "True"

        k.run("delete", "bgr/a-b", "-n", shop, "--timeout=120s")
        assert _uids(k, shop, "a-b", "a-b-preview") == {"a-b": None, "a-b-preview": None}
        assert _secret(k, keys[0]) is None and _secret(k, keys[1]) is None
    finally:
        operator.kill()
        print(operator.log.read_text()[-3000:])
        _forget(k, *keys)


def _seed_legacy_state(
    cluster: Cluster, namespace: str, name: str, workdir: Path
) -> dict[str, Any]:
    """Apply the module by hand under the legacy key, as versions before 0.2 did."""
    workdir.mkdir()
    module = REPO / "terraform"
    for source in [*module.glob("*.tf"), module / ".terraform.lock.hcl"]:
        (workdir / source.name).write_bytes(source.read_bytes())
    variables = {
        "release_name": name,
        "namespace": namespace,
        "create_namespace": False,
        "service_name": name,
        "service_type": "ClusterIP",
        "service_port": 80,
        "target_port": "5000",
        "preview_service_name": f"{name}-preview",
        "labels": names.release_labels(name),
    }
    (workdir / "v.tfvars.json").write_text(json.dumps(variables))
    env = {**cluster.env, "KUBE_CONFIG_PATH": str(cluster.kubeconfig)}
    backend = {
        "secret_suffix": names.legacy_state_key(namespace, name),
        "namespace": STATE_NAMESPACE,
        "config_path": str(cluster.kubeconfig),
    }
    for argv in (
        ["init", *(f"-backend-config={k}={v}" for k, v in backend.items())],
        ["apply", "-auto-approve", "-var-file=v.tfvars.json"],
    ):
        subprocess.run(
            ["terraform", *argv, "-input=false", "-no-color"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
    return variables


def _state_resources(secret: dict[str, Any]) -> list[Any]:
    raw = gzip.decompress(base64.b64decode(secret["data"]["tfstate"]))
    return list(json.loads(raw).get("resources") or [])


def test_state_under_the_legacy_key_is_migrated_and_the_services_kept(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path, apps: dict[str, App]
) -> None:
    name = "web"
    legacy, key = names.legacy_state_key(namespace, name), names.state_key(namespace, name)
    k.run("create", "namespace", STATE_NAMESPACE, check=False)
    _seed_legacy_state(cluster, namespace, name, tmp_path / "old")
    before = _uids(k, namespace, name, f"{name}-preview")
    assert None not in before.values() and _secret(k, legacy)

    operator = _operator(cluster, k, tmp_path, namespace)
    try:
        rel = Release(k, namespace, name)
        rel.apply(_body(name, apps["v1"]))
        rel.wait_condition("Ready", timeout=180)
        assert _uids(k, namespace, name, f"{name}-preview") == before, "kept, not re-created"
        assert _secret(k, legacy) is None, "the legacy state Secret is gone"
        migrated = _secret(k, key)
        assert migrated and len(_state_resources(migrated)) == 2
        assert migrated["metadata"]["labels"]["tfstateSecretSuffix"] == key
        assert "TerraformApplied" in rel.events() or rel.condition("InfrastructureReady")
    finally:
        operator.kill()
        print(operator.log.read_text()[-3000:])
        _forget(k, key, legacy)


def test_named_target_port_and_deletion_with_the_state_gone(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path, apps: dict[str, App]
) -> None:
    name = "named"
    key = names.state_key(namespace, name)
    operator = _operator(cluster, k, tmp_path, namespace)
    try:
        rel = Release(k, namespace, name)
        body = _body(name, apps["v1"])
        body["spec"]["service"]["targetPort"] = "http"
        body["spec"]["template"]["spec"]["containers"][0]["ports"] = [
            {"name": "http", "containerPort": 5000}
        ]
        rel.apply(body)
        rel.wait_condition("Ready", timeout=180)
        for svc in (name, f"{name}-preview"):
            ports = k.json("get", "svc", svc, "-n", namespace)["spec"]["ports"]
            assert [p["targetPort"] for p in ports] == ["http"]

        # The state is lost (deleted by hand, a restored backup...): deleting the
        # release must still finish and remove the release's own Services.
        _forget(k, key)
        k.run("delete", f"bgr/{name}", "-n", namespace, "--timeout=120s")
        assert _uids(k, namespace, name, f"{name}-preview") == {
            name: None,
            f"{name}-preview": None,
        }
        assert _secret(k, key) is None
    finally:
        operator.kill()
        print(operator.log.read_text()[-3000:])
        _forget(k, key)


def _service(k: Kubectl, namespace: str, name: str, labels: dict[str, str], **notes: str) -> Any:
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": notes,
            },
            "spec": {"ports": [{"port": 8443, "targetPort": 8443}]},
        }
    )
    return k.json("get", "svc", name, "-n", namespace)


def test_services_of_a_crashed_apply_are_imported_not_refused(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path, apps: dict[str, App]
) -> None:
    name = "crashed"
    key = names.state_key(namespace, name)
    # What an apply killed after creating the Services, before saving state, leaves.
    for svc in (name, f"{name}-preview"):
        _service(k, namespace, svc, names.release_labels(name))
    before = _uids(k, namespace, name, f"{name}-preview")
    operator = _operator(cluster, k, tmp_path, namespace)
    try:
        rel = Release(k, namespace, name)
        rel.apply(_body(name, apps["v1"]))
        rel.wait_condition("Ready", timeout=180)
        assert _uids(k, namespace, name, f"{name}-preview") == before
        secret = _secret(k, key)
        assert secret and len(_state_resources(secret)) == 2
        ports = k.json("get", "svc", name, "-n", namespace)["spec"]["ports"]
        assert [(p["port"], p["targetPort"]) for p in ports] == [(80, 5000)]
    finally:
        operator.kill()
        print(operator.log.read_text()[-3000:])
        _forget(k, key)


def test_a_foreign_service_is_refused_and_left_untouched(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path, apps: dict[str, App]
) -> None:
    name = "intruder"
    foreign = _service(k, namespace, name, {"team": "legacy"}, **{names.ADOPT_ANNOTATION: "other"})
    operator = _operator(cluster, k, tmp_path, namespace)
    try:
        rel = Release(k, namespace, name)
        rel.apply(_body(name, apps["v1"]))
        stalled = rel.wait_condition("Stalled", timeout=120)
        assert stalled["reason"] == "ServiceNotOwned" or "ServiceNotOwned" in stalled["message"]
        untouched = k.json("get", "svc", name, "-n", namespace)
        assert untouched["metadata"]["resourceVersion"] == foreign["metadata"]["resourceVersion"]
        assert rel.condition("Ready")["status"] != "True"
    finally:
        operator.kill()
        print(operator.log.read_text()[-3000:])
        _forget(k, names.state_key(namespace, name))


def test_a_foreign_service_annotated_for_the_release_is_adopted(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path, apps: dict[str, App]
) -> None:
    name = "adopter"
    key = names.state_key(namespace, name)
    foreign = _service(k, namespace, name, {"team": "legacy"}, **{names.ADOPT_ANNOTATION: name})
    operator = _operator(cluster, k, tmp_path, namespace)
    try:
        rel = Release(k, namespace, name)
        rel.apply(_body(name, apps["v1"]))
        rel.wait_condition("Ready", timeout=180)
        adopted = k.json("get", "svc", name, "-n", namespace)
        assert adopted["metadata"]["uid"] == foreign["metadata"]["uid"], "adopted in place"
        assert adopted["metadata"]["labels"][names.RELEASE_LABEL] == name
        assert adopted["metadata"]["labels"][names.MANAGED_BY_LABEL] == names.MANAGED_BY_VALUE
        assert [(p["port"], p["targetPort"]) for p in adopted["spec"]["ports"]] == [(80, 5000)]
        secret = _secret(k, key)
        assert secret and len(_state_resources(secret)) == 2
    finally:
        operator.kill()
        print(operator.log.read_text()[-3000:])
        _forget(k, key)
