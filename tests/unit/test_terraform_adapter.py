"""The Terraform adapter's pure parts and its process handling, without Terraform.

Command lines are checked by running them through ``echo``: python-terraform
builds them, our runner executes them, and the test reads back the argv.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import stat
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from python_terraform import IsFlagged, IsNotFlagged

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform import TerraformInfrastructure, _Terraform
from bluegreen.adapters.terraform_process import ProcessGuard, TerraformStoppedError
from bluegreen.adapters.terraform_text import (
    REDACTED,
    declared_variables,
    is_lock_error,
    lock_created,
    lock_id,
    module_checksum,
    plan_changes,
    scrub,
    sensitive_values,
    summarize_error,
)
from bluegreen.adapters.terraform_workdir import PLAN_FILE, VAR_FILE, write_private
from bluegreen.core.infrastructure import InfrastructureInputs, InfrastructureOutputs

if TYPE_CHECKING:
    from bluegreen.adapters.terraform_cluster import TerraformCluster


class EmptyCluster:
    """A cluster holding no state Secret and no Service: the scheduling tests here
    exercise process handling only; the Kubernetes side runs against the real
    API server in tests/terraform."""

    async def state_secret(self, key: str) -> Any:
        return None

    async def create_state_secret(self, body: Any) -> bool:
        raise AssertionError("nothing to migrate in an empty cluster")

    async def delete_state_secret(self, key: str, uid: str) -> None:
        raise AssertionError("nothing to delete in an empty cluster")

    async def lease(self, key: str) -> Any:
        return None

    async def delete_lease(self, key: str, uid: str) -> None:
        raise AssertionError("nothing to delete in an empty cluster")

    async def service(self, namespace: str, name: str) -> Any:
        return None


NO_CLUSTER: TerraformCluster = EmptyCluster()

MODULE = Path(__file__).resolve().parents[2] / "terraform"

# Terraform 1.5's wording of a held lock, in both renderings (-no-color and not).
LOCK_ERROR_PLAIN = """
Error: Error acquiring the state lock

Error message: the state is already locked by another terraform client
Lock Info:
  ID:        5d3c2b7e-0f1a-4c7d-9a52-3c0c6e9d2a11
  Path:
  Operation: OperationTypeApply
  Who:       root@runner
  Version:   1.5.7
  Created:   2026-11-26 07:01:02.123456789 +0000 UTC
  Info:


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.
"""
LOCK_ERROR_BOXED = "\n".join(
    "\u2502 " + line if line else "\u2502" for line in LOCK_ERROR_PLAIN.strip().splitlines()
)

VALIDATION_ERROR = """
\u2577
\u2502 Error: Invalid value for variable
\u2502
\u2502   on inputs.tfvars.json line 9:
\u2502    9:   "service_type": "Bogus",
\u2502     \u251c\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500
\u2502     \u2502 var.service_type is "Bogus"
\u2502
\u2502 service_type must be one of ClusterIP, NodePort or LoadBalancer.
\u2502
\u2502 This was checked by the validation rule at variables.tf:51,3-13.
\u2575
"""


def inputs(**extra: object) -> InfrastructureInputs:
    return InfrastructureInputs(
        release="shop",
        release_namespace="team-a",
        namespace="team-a",
        create_namespace=False,
        service_name="shop",
        service_type="ClusterIP",
        service_port=80,
        target_port=5000,
        preview_service_name="shop-preview",
        extra_variables=extra,
    )


# -- module checksum --------------------------------------------------------


def copy_module(tmp_path: Path) -> Path:
    target = tmp_path / "module"
    shutil.copytree(MODULE, target, ignore=shutil.ignore_patterns(".terraform"))
    return target


def test_checksum_is_stable_and_covers_tf_files_and_lock_file(tmp_path: Path) -> None:
    module = copy_module(tmp_path)
    first = module_checksum(module)
    assert first == module_checksum(module) == module_checksum(MODULE)
    assert len(first) == 64

    (module / "README.md").write_text("docs do not change what Terraform does")
    assert module_checksum(module) == first

    lock = module / ".terraform.lock.hcl"
    lock.write_text(lock.read_text() + "\n")
    after_lock = module_checksum(module)
    assert after_lock != first

    (module / "main.tf").rename(module / "main_override.tf")
    assert module_checksum(module) != after_lock


def test_checksum_refuses_a_directory_without_terraform(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        module_checksum(tmp_path)


def test_adapter_exposes_the_module_checksum() -> None:
    infra = TerraformInfrastructure(
        MODULE, Path("/nonexistent"), cluster=NO_CLUSTER, terraform_bin="true"
    )
    assert infra.module_checksum == module_checksum(MODULE)


# -- variables --------------------------------------------------------------


def test_declared_variables_reads_the_real_module() -> None:
    declared = declared_variables([(MODULE / "variables.tf").read_text()])
    assert set(inputs().terraform_variables()) <= set(declared)
    assert not any(declared.values())


def test_declared_variables_sees_sensitive_flag() -> None:
    source = textwrap.dedent(
        """
        variable "token" {
          type      = string
          sensitive = true
        }

        variable "port" {
          type = number
        }
        """
    )
    assert declared_variables([source]) == {"token": True, "port": False}


async def test_unknown_and_reserved_variables_are_refused_before_running(tmp_path: Path) -> None:
    # terraform_bin "false" would fail any real command: the refusal comes first.
    infra = TerraformInfrastructure(MODULE, tmp_path, cluster=NO_CLUSTER, terraform_bin="false")
    with pytest.raises(InfrastructureError, match="unknown Terraform variables: servce_port"):
        await infra.apply(inputs(servce_port=8080))
    with pytest.raises(InfrastructureError, match="operator only: kubeconfig_path"):
        await infra.apply(inputs(kubeconfig_path="/etc/kubernetes/admin.conf"))
    assert await asyncio.to_thread(os.listdir, tmp_path) == []


# -- error text -------------------------------------------------------------


def test_summary_keeps_the_message_and_drops_snippets_that_quote_values() -> None:
    summary = summarize_error(VALIDATION_ERROR)
    assert summary == (
        "Error: Invalid value for variable "
        "service_type must be one of ClusterIP, NodePort or LoadBalancer."
    )
    assert "Bogus" not in summary


def test_summary_starts_at_the_first_error_and_is_bounded() -> None:
    stderr = "Warning: something minor\n\nmore words\n" + "Error: boom\n" + "x\n" * 50
    summary = summarize_error(stderr, max_lines=3)
    assert summary == "Error: boom x x"
    assert len(summarize_error("Error: " + "y" * 5000)) <= 600
    assert summarize_error("") == "terraform failed without an error message"


def test_summary_redacts_sensitive_and_secret_looking_values() -> None:
    variables = {
        "db_password": "hunter22",
        "labels": {"team": "blue"},
        "api_token": ["tok-123456"],
        "cert": "PEMDATA",
        "service_port": 80,
    }
    secrets = sensitive_values(variables, sensitive_names={"cert"})
    assert set(secrets) == {"hunter22", "tok-123456", "PEMDATA"}
    stderr = "Error: bad\nconnecting with hunter22 and tok-123456 and PEMDATA for team blue"
    summary = summarize_error(stderr, secrets)
    for secret in secrets:
        assert secret not in summary
    assert summary.count(REDACTED) == 3
    assert "blue" in summary


def test_scrub_replaces_longest_secret_first() -> None:
    secrets = sensitive_values({"secret_a": "abc", "secret_b": "abcdef"}, ())
    assert scrub("x abcdef y", secrets) == f"x {REDACTED} y"


# -- lock info --------------------------------------------------------------


@pytest.mark.parametrize("stderr", [LOCK_ERROR_PLAIN, LOCK_ERROR_BOXED])
def test_lock_id_and_age_are_read_from_the_lock_info(stderr: str) -> None:
    assert is_lock_error(stderr)
    assert lock_id(stderr) == "5d3c2b7e-0f1a-4c7d-9a52-3c0c6e9d2a11"
    assert lock_created(stderr) == datetime(2026, 11, 26, 7, 1, 2, 123456, tzinfo=UTC)


def test_lock_parsing_handles_whole_seconds_offsets_and_garbage() -> None:
    stderr = "  ID:        abc\n  Created:   2026-01-02 03:04:05 +0200 CEST\n"
    created = lock_created(stderr)
    assert created is not None
    assert created.astimezone(UTC) == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert lock_id("Error: something else") is None
    assert lock_created("Created: yesterday") is None
    assert not is_lock_error("Error: Invalid value for variable")


def test_plan_changes_lists_addresses_and_actions() -> None:
    stdout = textwrap.dedent(
        """
        Note: Objects have changed outside of Terraform
          # kubernetes_service_v1.stable has changed
        Terraform will perform the following actions:
          # kubernetes_service_v1.stable will be updated in-place
          ~ resource "kubernetes_service_v1" "stable" {
          # kubernetes_namespace_v1.this[0] must be replaced
        Plan: 1 to add, 1 to change, 1 to destroy.
        """
    )
    assert plan_changes(stdout) == [
        "kubernetes_service_v1.stable will be updated in-place",
        "kubernetes_namespace_v1.this[0] must be replaced",
    ]


# -- command lines (python-terraform's defects worked around) ---------------


def echo_terraform(tmp_path: Path) -> _Terraform:
    guard = ProcessGuard(timeout_seconds=10, grace_seconds=1)
    return _Terraform(tmp_path, "echo", {"PATH": os.environ["PATH"]}, guard)


def test_plan_command_line_uses_our_var_file_only(tmp_path: Path) -> None:
    tf = echo_terraform(tmp_path)
    before = set(Path("/tmp").glob("*.tfvars.json"))
    rc, out, _ = tf.run(
        "plan", detailed_exitcode=IsFlagged, out=PLAN_FILE, var_file=VAR_FILE, lock_timeout="5s"
    )
    assert rc == 0
    argv = out.split()
    assert argv[0] == "plan"
    assert {"-detailed-exitcode", f"-out={PLAN_FILE}", f"-var-file={VAR_FILE}"} <= set(argv)
    assert {"-lock-timeout=5s", "-input=false", "-no-color"} <= set(argv)
    assert [a for a in argv if a.startswith("-var-file")] == [f"-var-file={VAR_FILE}"]
    assert set(Path("/tmp").glob("*.tfvars.json")) == before


def test_saved_plan_apply_and_destroy_command_lines(tmp_path: Path) -> None:
    tf = echo_terraform(tmp_path)
    _, out, _ = tf.run("apply", PLAN_FILE, skip_plan=True, lock_timeout="5s")
    argv = out.split()
    assert argv[0] == "apply" and argv[-1] == PLAN_FILE
    assert "-auto-approve=true" in argv
    assert not any(a.startswith("-var") for a in argv)  # a saved plan refuses variables

    _, out, _ = tf.run("destroy", force=IsNotFlagged, auto_approve=True, var_file=VAR_FILE)
    argv = out.split()
    assert "-force" not in argv and "-auto-approve=true" in argv

    _, out, _ = tf.run("cmd", "force-unlock", "abc-123", force=IsFlagged)
    assert out.split() == ["force-unlock", "-force", "abc-123"]

    _, out, _ = tf.run(
        "init", backend_config={"secret_suffix": "team-a-shop"}, reconfigure=IsFlagged
    )
    assert {"-backend-config=secret_suffix=team-a-shop", "-reconfigure"} <= set(out.split())


def test_variables_never_travel_as_a_dict(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="var file"):
        echo_terraform(tmp_path).run("plan", var={"secret_token": "x"})


def test_var_file_is_private_and_replaces_leftovers(tmp_path: Path) -> None:
    path = tmp_path / VAR_FILE
    path.write_text("leftover of a crashed run")
    path.chmod(0o644)
    write_private(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- deadlines and stopping -------------------------------------------------


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


def test_deadline_interrupts_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    guard = ProcessGuard(timeout_seconds=0.5, grace_seconds=1)
    started = time.monotonic()
    # The child stands in for a provider plugin: it must die with its parent,
    # even though (as a background job of sh) it ignores SIGINT.
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    with pytest.raises(TerraformStoppedError, match=r"timed out after 0\.5s"):
        guard.run(["sh", "-c", script], tmp_path, {"PATH": os.environ["PATH"]})
    assert time.monotonic() - started < 4
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child)


def test_sigint_lets_the_command_finish_its_cleanup(tmp_path: Path) -> None:
    marker = tmp_path / "saved"
    guard = ProcessGuard(timeout_seconds=0.5, grace_seconds=5)
    script = f"trap 'echo state > {marker}; exit 130' INT; while :; do sleep 0.05; done"
    with pytest.raises(TerraformStoppedError) as stopped:
        guard.run(["bash", "-c", script], tmp_path, {"PATH": os.environ["PATH"]})
    assert marker.read_text().strip() == "state"
    assert stopped.value.reason == "timed out after 0.5s"


def test_a_command_ignoring_sigint_is_killed_after_the_grace(tmp_path: Path) -> None:
    guard = ProcessGuard(timeout_seconds=0.3, grace_seconds=0.5)
    started = time.monotonic()
    script = "trap '' INT; while :; do sleep 0.05; done"
    with pytest.raises(TerraformStoppedError):
        guard.run(["bash", "-c", script], tmp_path, {"PATH": os.environ["PATH"]})
    assert time.monotonic() - started < 4


def test_a_stopped_guard_starts_nothing(tmp_path: Path) -> None:
    guard = ProcessGuard(timeout_seconds=10, grace_seconds=1)
    guard.stop("cancelled")
    with pytest.raises(TerraformStoppedError, match="cancelled"):
        guard.run(["touch", str(tmp_path / "ran")], tmp_path, {"PATH": os.environ["PATH"]})
    assert not (tmp_path / "ran").exists()


def test_a_finished_command_returns_its_output(tmp_path: Path) -> None:
    guard = ProcessGuard(timeout_seconds=10, grace_seconds=1)
    rc, out, err = guard.run(
        ["sh", "-c", "echo out; echo err >&2; exit 2"], tmp_path, {"PATH": os.environ["PATH"]}
    )
    assert (rc, out, err) == (2, "out\n", "err\n")


# -- configuration ----------------------------------------------------------


def test_backend_is_in_cluster_without_a_kubeconfig(tmp_path: Path) -> None:
    infra = TerraformInfrastructure(MODULE, tmp_path, cluster=NO_CLUSTER, terraform_bin="true")
    assert infra._backend_config("team-a-shop") == {
        "secret_suffix": "team-a-shop",
        "namespace": "bluegreen-system",
        "in_cluster_config": "true",
    }
    kubeconfig = tmp_path / "kubeconfig"
    infra = TerraformInfrastructure(
        MODULE,
        tmp_path,
        cluster=NO_CLUSTER,
        terraform_bin="true",
        kubeconfig=kubeconfig,
        state_namespace="ops",
    )
    assert infra._backend_config("k") == {
        "secret_suffix": "k",
        "namespace": "ops",
        "config_path": str(kubeconfig),
    }


def test_environment_is_automation_only_and_ignores_ambient_terraform_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "TF_VAR_service_port": "1",
        "TF_CLI_ARGS_plan": "-refresh=false",
        "TF_PLUGIN_CACHE_DIR": "/shared",
        "TF_WORKSPACE": "other",
        "KUBECONFIG": "/home/me/.kube/config",
        "KUBE_CONFIG_PATH": "/home/me/.kube/config",
        "TF_CLI_CONFIG_FILE": "/toolchain/terraformrc",
    }.items():
        monkeypatch.setenv(name, value)
    in_cluster = TerraformInfrastructure(
        MODULE, tmp_path, cluster=NO_CLUSTER, terraform_bin="true"
    )._env
    assert not {
        "TF_VAR_service_port",
        "TF_CLI_ARGS_plan",
        "TF_PLUGIN_CACHE_DIR",
        "TF_WORKSPACE",
        "KUBECONFIG",
        "KUBE_CONFIG_PATH",
    } & set(in_cluster)
    assert in_cluster["TF_CLI_CONFIG_FILE"] == "/toolchain/terraformrc"
    assert (in_cluster["TF_IN_AUTOMATION"], in_cluster["TF_INPUT"]) == ("1", "0")
    assert in_cluster["CHECKPOINT_DISABLE"] == "1"

    kubeconfig = tmp_path / "kc"
    local = TerraformInfrastructure(
        MODULE, tmp_path, cluster=NO_CLUSTER, terraform_bin="true", kubeconfig=kubeconfig
    )
    assert local._env["KUBE_CONFIG_PATH"] == str(kubeconfig)


async def test_invalid_state_keys_never_become_paths(tmp_path: Path) -> None:
    infra = TerraformInfrastructure(
        MODULE, tmp_path / "work", cluster=NO_CLUSTER, terraform_bin="false"
    )
    release = dataclasses.replace(inputs(), release="..", release_namespace="x/..")
    with pytest.raises(InfrastructureError, match="invalid state key"):
        await infra.apply(release)


# -- scheduling, with a stand-in CLI that records what ran when ---------------

STAND_IN = """#!/bin/bash
# Records "<start|end> <command> <release dir> <time>"; plan takes a while and
# reports no changes, output prints the module's outputs.
echo "start $1 ${PWD##*/} $(date +%s.%N)" >> "$STAND_IN_LOG"
case "$1" in
  init) mkdir -p .terraform ;;
  plan) sleep 0.4 ;;
  output) echo '{"stable_service_name": {"value": "shop"}}' ;;
esac
echo "end $1 ${PWD##*/} $(date +%s.%N)" >> "$STAND_IN_LOG"
"""


def overlaps(log: Path, command: str) -> tuple[int, dict[str, int]]:
    """Most runs of ``command`` at once: overall and per release directory."""
    events = []
    for line in log.read_text().splitlines():
        edge, cmd, release, at = line.split()
        if cmd == command:
            events.append((float(at), 1 if edge == "start" else -1, release))
    running, most = 0, 0
    per_release: dict[str, int] = {}
    most_per_release: dict[str, int] = {}
    for _, step, release in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        per_release[release] = per_release.get(release, 0) + step
        most = max(most, running)
        most_per_release[release] = max(most_per_release.get(release, 0), per_release[release])
    return most, most_per_release


async def test_runs_are_bounded_overall_and_serialized_per_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = tmp_path / "terraform"
    cli.write_text(STAND_IN)
    cli.chmod(0o755)
    log = tmp_path / "runs.log"
    monkeypatch.setenv("STAND_IN_LOG", str(log))
    infra = TerraformInfrastructure(
        MODULE, tmp_path / "work", cluster=NO_CLUSTER, terraform_bin=str(cli), max_concurrency=2
    )
    releases = [dataclasses.replace(inputs(), release=f"r{i}") for i in range(4)]
    results = await asyncio.gather(
        *(infra.apply(r) for r in releases), infra.detect_drift(releases[0])
    )

    first = results[0]
    assert isinstance(first, InfrastructureOutputs)
    assert first.stable_service == "shop"
    assert first.preview_service == "shop-preview"  # not in the outputs: from inputs
    most, per_release = await asyncio.to_thread(overlaps, log, "plan")
    assert most == 2  # parallel, but never beyond max_concurrency
    assert set(per_release.values()) == {1}  # one run per release at a time
    lines = await asyncio.to_thread(log.read_text)
    commands = [line.split()[1] for line in lines.splitlines() if line.startswith("start")]
    assert "apply" not in commands  # plan exited 0: nothing to apply
    assert commands.count("init") == 4  # r0's second run reused its init


async def test_cancelling_a_run_interrupts_the_cli_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = tmp_path / "terraform"
    cli.write_text(STAND_IN.replace("sleep 0.4", "sleep 30"))
    cli.chmod(0o755)
    monkeypatch.setenv("STAND_IN_LOG", str(tmp_path / "runs.log"))
    infra = TerraformInfrastructure(
        MODULE, tmp_path / "work", cluster=NO_CLUSTER, terraform_bin=str(cli)
    )
    task = asyncio.create_task(infra.apply(inputs()))
    workdir = tmp_path / "work" / inputs().state_key()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await asyncio.to_thread((workdir / VAR_FILE).exists):
        assert loop.time() < deadline, "the run never started"
        await asyncio.sleep(0.02)
    started = loop.time()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert loop.time() - started < 5  # SIGINT ends `sleep`; no 20 s kill grace needed
    assert not await asyncio.to_thread((workdir / VAR_FILE).exists)
    # The release is free again: a new run is not blocked by the cancelled one.
    cli.write_text(STAND_IN)
    assert (await infra.detect_drift(inputs())).drifted is False
