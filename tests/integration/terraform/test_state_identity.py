"""One state per release, state kept under the legacy key moved without loss, and
Services that are not Terraform's yet: real Terraform 1.5.7, the real provider,
the real kubernetes backend and API server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from terraform_helpers import MODULE, STATE_NAMESPACE, Kube, forget_state, wait_for

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform import TerraformInfrastructure
from bluegreen.core import names, tfstate
from bluegreen.core.infrastructure import InfrastructureInputs

pytestmark = [pytest.mark.terraform, pytest.mark.cluster]

MakeInfra = Callable[..., TerraformInfrastructure]
ADAPTER_LOG = "bluegreen.adapters"
OURS = {"app.kubernetes.io/managed-by": "bluegreen-operator"}


def inputs_for(namespace: str, release: str, **changes: Any) -> InfrastructureInputs:
    base = InfrastructureInputs(
        release=release,
        release_namespace=namespace,
        namespace=namespace,
        create_namespace=False,
        service_name="shop",
        service_type="ClusterIP",
        service_port=80,
        target_port=5000,
        preview_service_name="shop-preview",
        labels=names.release_labels(release),
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def namespaces(kube: Kube) -> Iterator[Callable[[str], str]]:
    """Creates namespaces named ``<prefix><random>``; deletes them afterwards."""
    made: list[str] = []

    def make(name: str) -> str:
        kube.ensure_namespace(name)
        made.append(name)
        return name

    yield make
    for name in made:
        kube.core.delete_namespace(name)


@pytest.fixture
def cleanup_state(kube: Kube) -> Iterator[list[InfrastructureInputs]]:
    releases: list[InfrastructureInputs] = []
    yield releases
    for inputs in releases:
        forget_state(kube, inputs.state_key(), inputs.legacy_state_key())


def terraform_apply_with_key(
    inputs: InfrastructureInputs,
    key: str,
    cluster: Any,
    terraform_env: dict[str, str],
    workdir: Path,
) -> None:
    """Apply the module by hand under state key ``key``, as older versions did."""
    workdir.mkdir()
    for source in [*MODULE.glob("*.tf"), MODULE / ".terraform.lock.hcl"]:
        (workdir / source.name).write_bytes(source.read_bytes())
    env = {**terraform_env, "KUBE_CONFIG_PATH": str(cluster.kubeconfig)}
    backend = {"secret_suffix": key, "namespace": STATE_NAMESPACE}
    backend["config_path"] = str(cluster.kubeconfig)
    (workdir / "v.tfvars.json").write_text(json.dumps(inputs.terraform_variables()))
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


def uids(kube: Kube, inputs: InfrastructureInputs) -> dict[str, str | None]:
    found = {}
    for name in (inputs.service_name, inputs.preview_service_name):
        service = kube.service(inputs.namespace, name)
        found[name] = service.metadata.uid if service else None
    return found


def state_of(kube: Kube, key: str) -> dict[str, Any] | None:
    secret = kube.secret(tfstate.secret_name(key))
    if secret is None:
        return None
    return tfstate.decode_state({"data": secret.data})


def as_dict(kube: Kube, obj: Any) -> dict[str, Any]:
    return dict(kube.core.api_client.sanitize_for_serialization(obj))


# -- the state key ------------------------------------------------------------


def test_the_legacy_collision_pair_keeps_two_states(
    make_infra: MakeInfra,
    kube: Kube,
    namespaces: Callable[[str], str],
    cleanup_state: list[InfrastructureInputs],
) -> None:
    shop = namespaces(f"shop-{uuid.uuid4().hex[:6]}")
    first = inputs_for(shop, "a-b")
    second = inputs_for(namespaces(f"{shop}-a"), "b")
    assert first.legacy_state_key() == second.legacy_state_key()
    cleanup_state.extend([first, second])
    infra = make_infra()

    asyncio.run(infra.apply(first))
    asyncio.run(infra.apply(second))
    first_uids, second_uids = uids(kube, first), uids(kube, second)
    assert None not in first_uids.values() and None not in second_uids.values()

    asyncio.run(infra.destroy(second))
    assert set(uids(kube, second).values()) == {None}
    assert uids(kube, first) == first_uids, "one release's destroy left the other's Services"
    assert state_of(kube, first.state_key()), "the other release's state is intact"
    asyncio.run(infra.apply(first))
    assert uids(kube, first) == first_uids


# -- legacy state ---------------------------------------------------------------


def test_legacy_state_moves_to_the_new_key_without_recreating_anything(
    make_infra: MakeInfra,
    kube: Kube,
    namespaces: Callable[[str], str],
    cleanup_state: list[InfrastructureInputs],
    cluster: Any,
    terraform_env: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = inputs_for(namespaces(f"tf-{uuid.uuid4().hex[:8]}"), "web-2")
    cleanup_state.append(release)
    legacy = release.legacy_state_key()
    terraform_apply_with_key(release, legacy, cluster, terraform_env, tmp_path / "old")
    before = uids(kube, release)
    legacy_state = state_of(kube, legacy)
    assert legacy_state and None not in before.values()

    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    asyncio.run(make_infra().apply(release))
    assert "no changes, nothing to apply" in caplog.text
    assert uids(kube, release) == before, "Services kept, not re-created"
    assert kube.secret(tfstate.secret_name(legacy)) is None
    assert kube.lease(tfstate.lease_name(legacy)) is None
    moved = kube.secret(tfstate.secret_name(release.state_key()))
    assert moved.metadata.labels["tfstateSecretSuffix"] == release.state_key()
    assert moved.metadata.annotations["encoding"] == "gzip"
    assert tfstate.service_uids(state_of(kube, release.state_key()) or {}) == {
        "kubernetes_service_v1.stable": before["shop"],
        "kubernetes_service_v1.preview": before["shop-preview"],
    }


def test_a_migration_interrupted_after_the_copy_is_finished(
    make_infra: MakeInfra,
    kube: Kube,
    namespaces: Callable[[str], str],
    cleanup_state: list[InfrastructureInputs],
    cluster: Any,
    terraform_env: dict[str, str],
    tmp_path: Path,
) -> None:
    release = inputs_for(namespaces(f"tf-{uuid.uuid4().hex[:8]}"), "web")
    cleanup_state.append(release)
    legacy = release.legacy_state_key()
    terraform_apply_with_key(release, legacy, cluster, terraform_env, tmp_path / "old")
    before = uids(kube, release)
    # The copy exists, the legacy Secret was never deleted: a crash in between.
    legacy_secret = as_dict(kube, kube.secret(tfstate.secret_name(legacy)))
    copy = tfstate.migrated_secret(legacy_secret, release.state_key())
    kube.core.create_namespaced_secret(STATE_NAMESPACE, copy)

    asyncio.run(make_infra().apply(release))
    assert kube.secret(tfstate.secret_name(legacy)) is None
    assert uids(kube, release) == before


def test_legacy_state_of_the_twin_release_is_left_to_its_owner(
    make_infra: MakeInfra,
    kube: Kube,
    namespaces: Callable[[str], str],
    cleanup_state: list[InfrastructureInputs],
    cluster: Any,
    terraform_env: dict[str, str],
    tmp_path: Path,
) -> None:
    shop = namespaces(f"shop-{uuid.uuid4().hex[:6]}")
    owner = inputs_for(shop, "a-b")
    twin = inputs_for(namespaces(f"{shop}-a"), "b")
    cleanup_state.extend([owner, twin])
    legacy = owner.legacy_state_key()
    terraform_apply_with_key(owner, legacy, cluster, terraform_env, tmp_path / "old")
    owner_uids = uids(kube, owner)

    infra = make_infra()
    asyncio.run(infra.apply(twin))
    assert None not in uids(kube, twin).values()
    assert kube.secret(tfstate.secret_name(legacy)) is not None, "not the twin's to move"
    assert uids(kube, owner) == owner_uids

    asyncio.run(infra.apply(owner))
    assert kube.secret(tfstate.secret_name(legacy)) is None
    assert uids(kube, owner) == owner_uids


# -- Services the state does not know -------------------------------------------


def test_our_service_missing_from_the_state_is_imported(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    infra = make_infra()
    asyncio.run(infra.apply(release))
    before = uids(kube, release)
    # An apply that created the Services and died before saving state.
    forget_state(kube, release.state_key())

    asyncio.run(infra.apply(dataclasses.replace(release, service_port=8080)))
    assert uids(kube, release) == before
    assert [p.port for p in kube.service(release.namespace, "shop").spec.ports] == [8080]
    assert set(tfstate.service_uids(state_of(kube, release.state_key()) or {}).values()) == set(
        before.values()
    )


def _foreign_service(kube: Kube, namespace: str, name: str, **annotations: str) -> Any:
    body = {
        "metadata": {"name": name, "labels": {"team": "legacy"}, "annotations": annotations},
        "spec": {"ports": [{"port": 8443, "targetPort": 8443}], "selector": {"app": "old"}},
    }
    return kube.core.create_namespaced_service(namespace, body)


def test_a_foreign_service_is_refused_untouched_and_adopted_only_when_annotated(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    foreign = _foreign_service(kube, release.namespace, "shop")
    infra = make_infra()

    with pytest.raises(InfrastructureError) as refused:
        asyncio.run(infra.apply(release))
    assert str(refused.value).startswith("ServiceNotOwned:")
    live = kube.service(release.namespace, "shop")
    assert live.metadata.resource_version == foreign.metadata.resource_version
    assert "kubernetes_service_v1.stable" not in tfstate.service_uids(
        state_of(kube, release.state_key()) or {}
    )

    kube.core.patch_namespaced_service(
        "shop",
        release.namespace,
        {"metadata": {"annotations": {"bluegreen.dev/adopt": release.release}}},
    )
    asyncio.run(infra.apply(release))
    adopted = kube.service(release.namespace, "shop")
    assert adopted.metadata.uid == foreign.metadata.uid, "adopted in place, not re-created"
    assert adopted.metadata.labels["bluegreen.dev/release"] == release.release
    assert adopted.metadata.labels["app.kubernetes.io/managed-by"] == "bluegreen-operator"
    assert [(p.port, p.target_port) for p in adopted.spec.ports] == [(80, 5000)]
    assert adopted.spec.selector == {"app": "old"}, "the selector stays the operator's to move"


def test_an_annotation_for_another_release_adopts_nothing(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    _foreign_service(kube, release.namespace, "shop-preview", **{"bluegreen.dev/adopt": "other"})
    with pytest.raises(InfrastructureError, match=r"^ServiceNotOwned: Service .*/shop-preview"):
        asyncio.run(make_infra().apply(release))


def test_a_named_target_port_reaches_the_service(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    asyncio.run(make_infra().apply(dataclasses.replace(release, target_port="http")))
    for name in ("shop", "shop-preview"):
        assert [p.target_port for p in kube.service(release.namespace, name).spec.ports] == ["http"]


def test_an_invalid_port_name_fails_with_the_module_message(
    make_infra: MakeInfra, release: InfrastructureInputs
) -> None:
    with pytest.raises(InfrastructureError, match="target_port must be a port number"):
        asyncio.run(make_infra().apply(dataclasses.replace(release, target_port="Not_A_Name")))


# -- destroy always finishes ----------------------------------------------------


def test_destroy_with_the_state_gone_still_removes_our_services(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    infra = make_infra()
    asyncio.run(infra.apply(release))
    forget_state(kube, release.state_key())

    asyncio.run(infra.destroy(release))
    assert set(uids(kube, release).values()) == {None}
    assert kube.secret(tfstate.secret_name(release.state_key())) is None
    # Nothing left at all: a no-op that creates no state either.
    asyncio.run(infra.destroy(release))
    assert kube.secret(tfstate.secret_name(release.state_key())) is None


def test_destroy_with_the_services_already_deleted(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    infra = make_infra()
    asyncio.run(infra.apply(release))
    for name in ("shop", "shop-preview"):
        kube.core.delete_namespaced_service(name, release.namespace)
    asyncio.run(infra.destroy(release))
    assert kube.secret(tfstate.secret_name(release.state_key())) is None


def test_destroy_in_a_terminating_namespace(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    infra = make_infra()
    asyncio.run(infra.apply(release))
    # A finalizer on another object keeps the namespace Terminating.
    kube.core.create_namespaced_config_map(
        release.namespace,
        {"metadata": {"name": "pin", "finalizers": ["test.bluegreen.dev/pin"]}},
    )
    kube.core.delete_namespace(release.namespace)
    wait_for(
        lambda: kube.core.read_namespace(release.namespace).status.phase == "Terminating",
        what="namespace terminating",
    )
    try:
        asyncio.run(infra.destroy(release))
        assert set(uids(kube, release).values()) == {None}
    finally:
        kube.core.patch_namespaced_config_map(
            "pin", release.namespace, {"metadata": {"finalizers": None}}
        )


def test_destroy_never_deletes_a_foreign_service_that_took_our_name(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    infra = make_infra()
    asyncio.run(infra.apply(release))
    kube.core.delete_namespaced_service("shop", release.namespace)
    wait_for(lambda: kube.service(release.namespace, "shop") is None, what="Service gone")
    foreign = _foreign_service(kube, release.namespace, "shop")

    asyncio.run(infra.destroy(release))
    survivor = kube.service(release.namespace, "shop")
    assert survivor is not None and survivor.metadata.uid == foreign.metadata.uid
    assert survivor.metadata.resource_version == foreign.metadata.resource_version
    assert kube.service(release.namespace, "shop-preview") is None


# -- what Terraform 1.5.7's kubernetes backend accepts as secret_suffix -----------


def _init_with_suffix(
    suffix: str, cluster: Any, terraform_env: dict[str, str], workdir: Path
) -> subprocess.CompletedProcess[str]:
    workdir.mkdir()
    (workdir / "main.tf").write_text('terraform {\n  backend "kubernetes" {}\n}\n')
    backend = {
        "secret_suffix": suffix,
        "namespace": STATE_NAMESPACE,
        "config_path": str(cluster.kubeconfig),
    }
    return subprocess.run(
        ["terraform", "init", "-input=false", "-no-color"]
        + [f"-backend-config={k}={v}" for k, v in backend.items()],
        cwd=workdir,
        env=terraform_env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_terraform_1_5_7_suffix_rules(
    kube: Kube, cluster: Any, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    version = subprocess.run(
        ["terraform", "version"], env=terraform_env, capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("Terraform v1.5.7")
    # A suffix ending in -<digits> is accepted as is by 1.5.7 (later versions,
    # which store large states in chunks named tfstate-<ws>-<suffix>-<n>, refuse
    # it): our keys avoid the form so that no version can confuse two of them.
    chunky = f"probe-{uuid.uuid4().hex[:6]}-1"
    try:
        done = _init_with_suffix(chunky, cluster, terraform_env, tmp_path / "chunky")
        assert done.returncode == 0, done.stderr
        assert kube.secret(f"tfstate-default-{chunky}") is not None
    finally:
        forget_state(kube, chunky)
    # Over 63 characters the key no longer fits the tfstateSecretSuffix label of
    # the lock Lease: the API server refuses it and init fails.
    long = f"p{uuid.uuid4().hex}" * 2
    assert len(long) > 63
    done = _init_with_suffix(long, cluster, terraform_env, tmp_path / "long")
    assert done.returncode != 0
    assert "must be no more than 63" in done.stderr
    assert kube.secret(f"tfstate-default-{long}") is None
