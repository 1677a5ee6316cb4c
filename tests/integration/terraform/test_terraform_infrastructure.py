"""TerraformInfrastructure with real Terraform, the real provider and a real API server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from terraform_helpers import MODULE, STATE_NAMESPACE, Kube, wait_for

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform import TerraformInfrastructure
from bluegreen.core.infrastructure import InfrastructureInputs

pytestmark = [pytest.mark.terraform, pytest.mark.cluster]

MakeInfra = Callable[..., TerraformInfrastructure]
ADAPTER_LOG = "bluegreen.adapters.terraform"


def lease_name(inputs: InfrastructureInputs) -> str:
    return f"lock-tfstate-default-{inputs.state_key()}"


def processes_in(directory: Path) -> list[int]:
    """PIDs whose working directory is ``directory`` (Terraform and its plugins)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")) == directory:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_apply_creates_both_services_selecting_nothing(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    outputs = asyncio.run(make_infra().apply(release))

    stable = kube.service(release.namespace, "shop")
    preview = kube.service(release.namespace, "shop-preview")
    assert stable is not None and preview is not None
    for service in (stable, preview):
        assert not service.spec.selector
        assert service.spec.type == "ClusterIP"
        assert [(p.port, p.target_port) for p in service.spec.ports] == [(80, 5000)]
        assert service.metadata.labels["app.kubernetes.io/managed-by"] == "bluegreen-operator"
        assert service.metadata.labels["bluegreen.dev/release"] == release.release
        assert service.metadata.labels["team"] == "payments"
    assert outputs.stable_service == "shop" and outputs.preview_service == "shop-preview"
    assert outputs.stable_cluster_ip == stable.spec.cluster_ip
    assert outputs.preview_cluster_ip == preview.spec.cluster_ip

    secret = kube.core.read_namespaced_secret(
        f"tfstate-default-{release.state_key()}", STATE_NAMESPACE
    )
    assert secret.metadata.labels["tfstate"] == "true"
    # The lock was released at the end of the run.
    assert kube.lease(lease_name(release)).spec.holder_identity is None


def test_operator_selector_survives_applies_and_no_change_runs_no_apply(
    make_infra: MakeInfra,
    kube: Kube,
    release: InfrastructureInputs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    infra = make_infra()
    asyncio.run(infra.apply(release))
    selector = {"app": "shop", "bluegreen.dev/revision": "5d8f9c2a1b"}
    kube.core.patch_namespaced_service("shop", release.namespace, {"spec": {"selector": selector}})
    before = kube.service(release.namespace, "shop").metadata.resource_version

    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    asyncio.run(infra.apply(release))
    assert "no changes, nothing to apply" in caplog.text
    assert "terraform apply for" not in caplog.text
    stable = kube.service(release.namespace, "shop")
    assert stable.spec.selector == selector
    assert stable.metadata.resource_version == before

    caplog.clear()
    asyncio.run(infra.apply(dataclasses.replace(release, service_port=8080)))
    assert "terraform apply for" in caplog.text
    stable = kube.service(release.namespace, "shop")
    preview = kube.service(release.namespace, "shop-preview")
    assert [p.port for p in stable.spec.ports] == [8080]
    assert [p.port for p in preview.spec.ports] == [8080]
    assert stable.spec.selector == selector


def test_drift_is_reported_and_nothing_is_changed(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    infra = make_infra()
    asyncio.run(infra.apply(release))
    assert not asyncio.run(infra.detect_drift(release)).drifted

    # The operator's own selector switch is not drift.
    selector = {"app": "shop"}
    kube.core.patch_namespaced_service("shop", release.namespace, {"spec": {"selector": selector}})
    assert not asyncio.run(infra.detect_drift(release)).drifted

    kube.core.patch_namespaced_service("shop", release.namespace, {"spec": {"type": "NodePort"}})
    report = asyncio.run(infra.detect_drift(release))
    assert report.drifted
    assert "kubernetes_service_v1.stable will be updated in-place" in report.summary
    assert "preview" not in report.summary
    assert kube.service(release.namespace, "shop").spec.type == "NodePort"

    asyncio.run(infra.apply(release))
    stable = kube.service(release.namespace, "shop")
    assert stable.spec.type == "ClusterIP"
    assert stable.spec.selector == selector
    assert not asyncio.run(infra.detect_drift(release)).drifted


def test_invalid_variable_fails_with_the_validation_message(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs, work_root: Path
) -> None:
    bogus = dataclasses.replace(release, service_type="Bogus")
    with pytest.raises(InfrastructureError) as failure:
        asyncio.run(make_infra().apply(bogus))
    message = str(failure.value)
    assert "terraform plan failed" in message
    assert "service_type must be one of ClusterIP, NodePort or LoadBalancer" in message
    assert kube.service(release.namespace, "shop") is None
    # Neither the variables nor a plan stay on disk after a failure.
    workdir = work_root / release.state_key()
    assert (workdir / "main.tf").exists()
    assert not (workdir / "inputs.tfvars.json").exists()
    assert not (workdir / "changes.tfplan").exists()


def test_stale_lock_of_a_killed_apply_is_recovered(
    make_infra: MakeInfra,
    kube: Kube,
    release: InfrastructureInputs,
    cluster: Any,
    terraform_env: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A terraform apply of this release's state, killed while it holds the
    # lock (it waits for an approval that never comes), as in a pod OOM-killed
    # mid-apply.
    for source in [*MODULE.glob("*.tf"), MODULE / ".terraform.lock.hcl"]:
        shutil.copy(source, tmp_path / source.name)
    env = {**terraform_env, "KUBE_CONFIG_PATH": str(cluster.kubeconfig)}
    env.pop("TF_INPUT", None)
    backend = {
        "secret_suffix": release.state_key(),
        "namespace": STATE_NAMESPACE,
        "config_path": str(cluster.kubeconfig),
    }
    subprocess.run(
        ["terraform", "init", "-input=false", "-no-color"]
        + [f"-backend-config={k}={v}" for k, v in backend.items()],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    (tmp_path / "v.tfvars.json").write_text(json.dumps(release.terraform_variables()))
    doomed = subprocess.Popen(
        ["terraform", "apply", "-input=true", "-no-color", "-var-file=v.tfvars.json"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        held = wait_for(
            lambda: (lease := kube.lease(lease_name(release))) and lease.spec.holder_identity,
            timeout=60,
            what="the apply to take the state lock",
        )
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
    assert kube.lease(lease_name(release)).spec.holder_identity == held

    # A lock younger than the threshold may belong to a live run: left alone.
    with pytest.raises(InfrastructureError, match=rf"state is locked \(lock {held}, taken 20"):
        asyncio.run(make_infra().apply(release))
    assert kube.lease(lease_name(release)).spec.holder_identity == held

    # Past the threshold it is provably stale: unlocked, and the run goes on.
    caplog.set_level(logging.WARNING, logger=ADAPTER_LOG)
    asyncio.run(make_infra(stale_lock_seconds=0).apply(release))
    assert f"stale lock {held} force-unlocked" in caplog.text
    assert kube.service(release.namespace, "shop") is not None
    assert kube.lease(lease_name(release)).spec.holder_identity is None


def test_lock_left_by_a_vanished_run_is_recovered(
    make_infra: MakeInfra,
    kube: Kube,
    release: InfrastructureInputs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    infra = make_infra(timeout_seconds=60)  # stale after 60 s + the kill grace
    asyncio.run(infra.apply(release))
    lock_id = str(uuid.uuid4())
    kube.hold_state_lock(release.state_key(), lock_id, datetime.now(UTC) - timedelta(hours=1))

    caplog.set_level(logging.WARNING, logger=ADAPTER_LOG)
    asyncio.run(infra.apply(dataclasses.replace(release, service_port=81)))
    assert f"lock {lock_id} is 36" in caplog.text  # ~3600 s old
    assert [p.port for p in kube.service(release.namespace, "shop").spec.ports] == [81]
    assert kube.lease(lease_name(release)).spec.holder_identity is None


def test_a_run_past_its_timeout_is_interrupted_and_leaves_nothing_running(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs, work_root: Path
) -> None:
    # A fresh lock held by "someone else" makes Terraform wait (lock_timeout
    # 60 s): the adapter's 5 s deadline must cut the wait short.
    infra = make_infra(timeout_seconds=5, lock_timeout="60s")
    asyncio.run(make_infra().apply(release))
    kube.hold_state_lock(release.state_key(), str(uuid.uuid4()), datetime.now(UTC))

    elapsed, error = asyncio.run(_timed(infra.apply(dataclasses.replace(release, service_port=82))))
    assert isinstance(error, InfrastructureError)
    assert "timed out after 5s" in str(error)
    assert elapsed < 5 + 20 + 5  # timeout + kill grace + slack
    assert processes_in(work_root / release.state_key()) == []
    assert [p.port for p in kube.service(release.namespace, "shop").spec.ports] == [80]


def test_cancelling_a_run_stops_terraform(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs, work_root: Path
) -> None:
    infra = make_infra(lock_timeout="60s")
    asyncio.run(infra.apply(release))
    kube.hold_state_lock(release.state_key(), str(uuid.uuid4()), datetime.now(UTC))
    workdir = work_root / release.state_key()

    async def cancel_while_waiting_for_the_lock() -> None:
        task = asyncio.create_task(infra.apply(dataclasses.replace(release, service_port=83)))
        await asyncio.to_thread(wait_for, lambda: processes_in(workdir), 60, "terraform")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_while_waiting_for_the_lock())
    assert processes_in(workdir) == []
    assert not (workdir / "inputs.tfvars.json").exists()


def test_runs_for_one_release_queue_instead_of_fighting_for_the_lock(
    make_infra: MakeInfra, kube: Kube, release: InfrastructureInputs
) -> None:
    infra = make_infra(lock_timeout="0s")

    async def both() -> None:
        await asyncio.gather(
            infra.apply(release), infra.apply(dataclasses.replace(release, service_port=84))
        )

    asyncio.run(both())
    assert [p.port for p in kube.service(release.namespace, "shop").spec.ports] == [84]


def test_destroy_removes_what_apply_created(
    make_infra: MakeInfra, kube: Kube, work_root: Path
) -> None:
    name = f"tf-{uuid.uuid4().hex[:8]}"
    inputs = InfrastructureInputs(
        release=name,
        release_namespace="default",
        namespace=name,
        create_namespace=True,
        service_name="web",
        service_type="NodePort",
        service_port=80,
        target_port=8080,
        preview_service_name="web-preview",
    )
    infra = make_infra()
    asyncio.run(infra.apply(inputs))
    assert kube.service(name, "web").spec.type == "NodePort"
    namespace = kube.core.read_namespace(name)
    assert namespace.metadata.labels["bluegreen.dev/release"] == name

    asyncio.run(infra.destroy(inputs))
    assert kube.service(name, "web") is None
    assert kube.service(name, "web-preview") is None
    wait_for(lambda: _namespace_gone(kube, name), timeout=60, what="namespace deletion")
    assert not (work_root / inputs.state_key()).exists()
    # The emptied state and its lock go too: nothing of a deleted release stays.
    assert kube.secret(f"tfstate-default-{inputs.state_key()}") is None
    assert kube.lease(lease_name(inputs)) is None
    # Destroying again is a no-op, not an error, and creates no state.
    asyncio.run(infra.destroy(inputs))
    assert kube.secret(f"tfstate-default-{inputs.state_key()}") is None


def _namespace_gone(kube: Kube, name: str) -> bool:
    return not any(ns.metadata.name == name for ns in kube.core.list_namespace().items)


async def _timed(coro: Any) -> tuple[float, BaseException | None]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await coro
    except Exception as err:
        return loop.time() - start, err
    return loop.time() - start, None


def test_a_new_module_version_refreshes_the_release_directory(
    make_infra: MakeInfra,
    kube: Kube,
    release: InfrastructureInputs,
    work_root: Path,
    tmp_path: Path,
) -> None:
    asyncio.run(make_infra().apply(release))
    # The next operator version ships a module that labels the Services differently.
    module = tmp_path / "module"
    module.mkdir()
    for source in [*MODULE.glob("*.tf"), MODULE / ".terraform.lock.hcl"]:
        shutil.copy(source, module / source.name)
    main = module / "main.tf"
    main.write_text(main.read_text().replace('"bluegreen.dev/role" = "stable"', '"tier" = "edge"'))
    upgraded = make_infra(module_dir=module)
    assert upgraded.module_checksum != make_infra().module_checksum

    asyncio.run(upgraded.apply(release))
    labels = kube.service(release.namespace, "shop").metadata.labels
    assert labels["tier"] == "edge" and "bluegreen.dev/role" not in labels
    workdir = work_root / release.state_key()
    assert (workdir / "main.tf").read_text() == main.read_text()
    assert (workdir / ".module-checksum").read_text() == upgraded.module_checksum
