"""Fixtures for the Terraform adapter against the real control plane.

Real Terraform (the toolchain's 1.5.7), the real provider from the filesystem
mirror, the real kubernetes backend; the Kubernetes API is only ever read or
edited the way a human would, never mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from bluegreen.adapters.terraform import TerraformInfrastructure
from bluegreen.core.infrastructure import InfrastructureInputs

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "terraform"
STATE_NAMESPACE = "bluegreen-system"


def toolchain_env() -> dict[str, str]:
    """The exports of hack/toolchain-env.sh, the one place that knows the toolchain."""
    script = f'eval "$({REPO}/hack/toolchain-env.sh)" && env -0'
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True).stdout
    pairs = (item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return dict(pairs)


@dataclass
class Kube:
    """A thin client for the assertions: what a human would see with kubectl."""

    core: Any
    coordination: Any

    def service(self, namespace: str, name: str) -> Any | None:
        try:
            return self.core.read_namespaced_service(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def lease(self, name: str) -> Any | None:
        try:
            return self.coordination.read_namespaced_lease(name, STATE_NAMESPACE)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def ensure_namespace(self, name: str) -> None:
        try:
            self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        except ApiException as err:
            if err.status != 409:
                raise

    def hold_state_lock(self, key: str, lock_id: str, created: datetime) -> None:
        """Take the state lock exactly as Terraform's kubernetes backend does.

        Lease ``lock-tfstate-default-<key>``, holder = lock ID, lock info JSON
        in the ``app.terraform.io/lock-info`` annotation. The backend never
        deletes the Lease on unlock, so an existing one is updated.
        """
        info = {
            "ID": lock_id,
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": "root@a-pod-that-was-killed",
            "Version": "1.5.7",
            "Created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Path": "",
        }
        name = f"lock-tfstate-default-{key}"
        metadata = client.V1ObjectMeta(
            name=name,
            labels={
                "tfstate": "true",
                "tfstateSecretSuffix": key,
                "tfstateWorkspace": "default",
                "app.kubernetes.io/managed-by": "terraform",
            },
            annotations={"app.terraform.io/lock-info": json.dumps(info)},
        )
        lease = client.V1Lease(metadata=metadata, spec=client.V1LeaseSpec(holder_identity=lock_id))
        if self.lease(name) is None:
            self.coordination.create_namespaced_lease(STATE_NAMESPACE, lease)
        else:
            self.coordination.patch_namespaced_lease(name, STATE_NAMESPACE, lease)


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def terraform_env(cluster: Any) -> dict[str, str]:
    env = toolchain_env()
    ready = Path(env["BLUEGREEN_TOOLCHAIN_DIR"]) / ".terraform-ready"
    if not ready.exists():
        pytest.fail(f"Terraform toolchain not built ({ready} missing): run 'make toolchain'")
    return env


@pytest.fixture(scope="session")
def kube(cluster: Any) -> Kube:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    kube = Kube(core=client.CoreV1Api(api), coordination=client.CoordinationV1Api(api))
    kube.ensure_namespace(STATE_NAMESPACE)
    return kube


@pytest.fixture(scope="session")
def work_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared by the whole session, like the operator's: later runs of a release
    # reuse its initialized directory.
    return tmp_path_factory.mktemp("terraform-work")


@pytest.fixture
def make_infra(
    cluster: Any,
    terraform_env: dict[str, str],
    work_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., TerraformInfrastructure]:
    # The adapter takes its environment from the process, as in the operator's pod.
    for name in ("PATH", "TF_CLI_CONFIG_FILE"):
        monkeypatch.setenv(name, terraform_env[name])

    def make(**overrides: Any) -> TerraformInfrastructure:
        options: dict[str, Any] = {
            "kubeconfig": cluster.kubeconfig,
            "terraform_bin": os.path.join(
                terraform_env["BLUEGREEN_TOOLCHAIN_DIR"], "bin/terraform"
            ),
            "lock_timeout": "2s",
            "timeout_seconds": 120,
        }
        options.update(overrides)
        return TerraformInfrastructure(MODULE, work_root, **options)

    return make


@pytest.fixture
def release(kube: Kube) -> Iterator[InfrastructureInputs]:
    """A fresh release in its own (existing) namespace."""
    name = f"tf-{uuid.uuid4().hex[:8]}"
    kube.ensure_namespace(name)
    yield InfrastructureInputs(
        release=name,
        release_namespace=name,
        namespace=name,
        create_namespace=False,
        service_name="shop",
        service_type="ClusterIP",
        service_port=80,
        target_port=5000,
        preview_service_name="shop-preview",
        labels={"team": "payments"},
    )
    kube.core.delete_namespace(name)
    key = f"{name}-{name}"
    for delete, object_name in (
        (kube.core.delete_namespaced_secret, f"tfstate-default-{key}"),
        (kube.coordination.delete_namespaced_lease, f"lock-tfstate-default-{key}"),
    ):
        try:
            delete(object_name, STATE_NAMESPACE)
        except ApiException as err:
            if err.status != 404:
                raise
