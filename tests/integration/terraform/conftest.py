"""Fixtures for the Terraform adapter against the real control plane.

Real Terraform (the toolchain's 1.5.7), the real provider from the filesystem
mirror, the real kubernetes backend; the Kubernetes API is only ever read or
edited the way a human would, never mocked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from terraform_helpers import (
    MODULE,
    STATE_NAMESPACE,
    Kube,
    PerCallCluster,
    forget_state,
    toolchain_env,
)

from bluegreen.adapters.terraform import TerraformInfrastructure
from bluegreen.core import names
from bluegreen.core.infrastructure import InfrastructureInputs


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
            "cluster": PerCallCluster(cluster.kubeconfig),
            "lock_timeout": "2s",
            "timeout_seconds": 120,
        }
        options.update(overrides)
        module_dir = options.pop("module_dir", MODULE)
        return TerraformInfrastructure(module_dir, work_root, **options)

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
    forget_state(kube, names.state_key(name, name), names.legacy_state_key(name, name))
