"""The adapter's command lines, runner and parsers on the real Terraform binary, no cluster.

The module's kubernetes backend needs an API server, so here the module runs
with its backend overridden to ``local`` and the provider pointed at an
address where nothing listens: everything Terraform can answer without a
cluster (plans, saved-plan JSON, outputs, diagnostics of plan, apply and
import) is answered by the real binary. Skipped when the toolchain is not
built (``make toolchain``).
"""

from __future__ import annotations

import shutil
import subprocess
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform import json_documents
from bluegreen.adapters.terraform.commands import TerraformCommands
from bluegreen.adapters.terraform.environment import terraform_environment
from bluegreen.adapters.terraform.module import module_checksum
from bluegreen.adapters.terraform.process import ProcessRunner
from bluegreen.adapters.terraform.session import InitSettings, Session, open_session
from bluegreen.adapters.terraform.workdir import PLAN_FILE, ReleaseDir
from bluegreen.core.infrastructure import InfrastructureInputs

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[3]
INPUTS = InfrastructureInputs(
    release="shop",
    release_namespace="team-a",
    namespace="team-a",
    create_namespace=False,
    service_name="shop",
    service_type="ClusterIP",
    service_port=80,
    target_port=5000,
    preview_service_name="shop-preview",
)
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: unit-test}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


@pytest.fixture(scope="module")
def toolchain() -> dict[str, str]:
    """The exports of hack/toolchain-env.sh, when its Terraform is built."""
    out = subprocess.run(
        ["bash", "-c", f'eval "$({REPO}/hack/toolchain-env.sh)" && env -0'],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    if not (Path(env["BLUEGREEN_TOOLCHAIN_DIR"]) / ".terraform-ready").exists():
        pytest.skip("Terraform toolchain not built: run 'make toolchain'")
    return env


@pytest.fixture
def local_module(tmp_path: Path) -> Path:
    module = tmp_path / "module"
    module.mkdir()
    for source in [*(REPO / "terraform").glob("*.tf"), REPO / "terraform" / ".terraform.lock.hcl"]:
        shutil.copy(source, module / source.name)
    (module / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    return module


class Harness:
    def __init__(self, toolchain: dict[str, str], module: Path, work: Path) -> None:
        kubeconfig = work / "kubeconfig"
        work.mkdir()
        kubeconfig.write_text(KUBECONFIG)
        self.env = terraform_environment(toolchain, kubeconfig)
        binary = Path(toolchain["BLUEGREEN_TOOLCHAIN_DIR"]) / "bin" / "terraform"
        self.commands = TerraformCommands(str(binary), "5s")
        self.workdir = ReleaseDir.prepare(work, "release", module, module_checksum(module))

    def session(self, **variables: Any) -> AbstractAsyncContextManager[Session]:
        runner = ProcessRunner(timeout_seconds=120, grace_seconds=5, env=self.env)
        return open_session(
            self.workdir,
            self.commands,
            runner,
            variables={**INPUTS.terraform_variables(), **variables},
            init=InitSettings({}, "local"),
            secrets=[],
        )


@pytest.fixture
def harness(toolchain: dict[str, str], local_module: Path, tmp_path: Path) -> Harness:
    return Harness(toolchain, local_module, tmp_path / "work")


async def test_plan_show_and_output_on_the_real_binary(harness: Harness) -> None:
    async with harness.session() as session:
        plan = await session.run(harness.commands.plan(lock=True), ok=(0, 2))
        assert plan.returncode == 2
        shown = await session.json(harness.commands.show_plan())
        assert json_documents.describe_changes(shown) == (
            "kubernetes_service_v1.preview will be created; "
            "kubernetes_service_v1.stable will be created"
        )
        drift = await session.run(harness.commands.plan(lock=False), ok=(0, 2))
        assert drift.returncode == 2
        raw = await session.json(harness.commands.outputs())
    assert raw == {}
    assert json_documents.outputs(raw, INPUTS).stable_service == "shop"
    # The saved plan embeds the variables: gone with the session.
    assert not (harness.workdir.path / PLAN_FILE).exists()
    assert harness.workdir.initialized_as("local")


async def test_a_validation_failure_on_the_real_binary(harness: Harness) -> None:
    with pytest.raises(InfrastructureError) as failed:
        async with harness.session(service_type="Bogus") as session:
            await session.run(harness.commands.plan(lock=True), ok=(0, 2))
    assert str(failed.value) == (
        "terraform plan failed: Invalid value for variable: "
        "service_type must be one of ClusterIP, NodePort or LoadBalancer."
    )


async def test_apply_and_import_failures_on_the_real_binary(harness: Harness) -> None:
    with pytest.raises(InfrastructureError) as failed:
        async with harness.session() as session:
            await session.run(harness.commands.plan(lock=True), ok=(0, 2))
            await session.run(harness.commands.apply_plan())
    message = str(failed.value)
    assert message.startswith("terraform apply failed: kubernetes_service_v1.")
    assert "connection refused" in message and message.endswith("(and 1 more error)")

    with pytest.raises(InfrastructureError) as failed:
        async with harness.session() as session:
            await session.run(
                harness.commands.import_resource("kubernetes_service_v1.nope", "team-a/nope")
            )
    assert str(failed.value).startswith(
        'terraform import failed: resource address "kubernetes_service_v1.nope" does not exist'
    )
