"""TerraformInfrastructure without a cluster: command lines, configuration, scheduling,
and its decisions on Terraform's real output.

Terraform itself needs the cluster here (the kubernetes backend); a stand-in
CLI (a bash script) replays Terraform's captured output (``terraform_fixtures``)
and records what ran. The whole adapter against real Terraform and a real API
server is in tests/integration/terraform.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gzip
import json
import logging
import os
import shutil
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from python_terraform import IsFlagged
from terraform_fixtures import FIXTURES

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform import TerraformInfrastructure
from bluegreen.adapters.terraform.commands import Output, TerraformCommands, _ArgvOnly
from bluegreen.adapters.terraform.environment import terraform_environment
from bluegreen.adapters.terraform.locks import LOCK_INFO_ANNOTATION
from bluegreen.adapters.terraform.module import module_checksum
from bluegreen.adapters.terraform.workdir import PLAN_FILE, VAR_FILE, write_private
from bluegreen.core import names, tfstate
from bluegreen.core.infrastructure import InfrastructureInputs, InfrastructureOutputs

MODULE = Path(__file__).resolve().parents[3] / "terraform"
ADAPTER_LOG = "bluegreen.adapters.terraform"


class FakeCluster:
    """The adapter's own Kubernetes calls, kept in dicts (no state Secret, no Service,
    no lock unless a test puts one there)."""

    def __init__(self) -> None:
        self.secrets: dict[str, Any] = {}
        self.leases: dict[str, Any] = {}
        self.services: dict[tuple[str, str], Any] = {}
        self.deleted: list[str] = []
        self.deleted_versions: list[tuple[str, str]] = []

    async def state_secret(self, key: str) -> Any:
        return self.secrets.get(key)

    async def create_state_secret(self, body: Any) -> bool:
        raise AssertionError("no legacy state to migrate here")

    async def delete_state_secret(self, key: str, uid: str) -> None:
        self.deleted.append(f"secret/{key}")
        self.secrets.pop(key, None)

    async def lease(self, key: str) -> Any:
        return self.leases.get(key)

    async def delete_lease(self, key: str, uid: str, resource_version: str = "") -> None:
        self.deleted.append(f"lease/{key}")
        self.deleted_versions.append((uid, resource_version))
        self.leases.pop(key, None)

    async def service(self, namespace: str, name: str) -> Any:
        return self.services.get((namespace, name))


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


KEY = inputs().state_key()


def infra(
    tmp_path: Path, cluster: FakeCluster | None = None, **options: Any
) -> TerraformInfrastructure:
    options.setdefault("terraform_bin", "false")
    return TerraformInfrastructure(
        MODULE, tmp_path / "work", cluster=cluster or FakeCluster(), **options
    )


# -- the stand-in CLI ------------------------------------------------------------


def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **cases: str) -> Path:
    """A ``terraform`` that logs ``start|end <command> <release dir> <time>`` and every
    argv, and runs ``cases[command]`` (bash; ``replay NAME`` prints a captured scenario
    and exits with its code). Defaults: init makes .terraform, the rest do nothing."""
    script = tmp_path / "terraform"
    # ``import_`` and ``force_unlock`` stand for ``import`` and ``force-unlock``.
    labels = {command.rstrip("_").replace("_", "-"): code for command, code in cases.items()}
    body = "\n".join(f"  {label}) {code} ;;" for label, code in labels.items())
    script.write_text(
        f"""#!/bin/bash
trap 'exit 130' INT  # set before the first log line: a test may interrupt from then on
replay() {{
  for f in "{FIXTURES}/$1.jsonl" "{FIXTURES}/$1.json"; do [[ -f $f ]] && cat "$f"; done
  python3 -c 'import json,sys; sys.stderr.write(json.load(open(sys.argv[1]))["stderr"])' \
    "{FIXTURES}/$1.meta.json"
  exit "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["returncode"])' \\
    "{FIXTURES}/$1.meta.json")"
}}
echo "start $1 ${{PWD##*/}} $(date +%s.%N)" >> "$STAND_IN_LOG"
echo "$*" >> "$STAND_IN_LOG.argv"
trap 'echo "end $1 ${{PWD##*/}} $(date +%s.%N)" >> "$STAND_IN_LOG"' EXIT
case "$1" in
{body}
  init) mkdir -p .terraform ;;
esac
"""
    )
    script.chmod(0o755)
    monkeypatch.setenv("STAND_IN_LOG", str(tmp_path / "runs.log"))
    return script


def ran(tmp_path: Path) -> list[list[str]]:
    """Every argv the stand-in ran, in order."""
    path = tmp_path / "runs.log.argv"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def commands_run(tmp_path: Path) -> list[str]:
    return [" ".join(argv[:2]) if argv[0] == "state" else argv[0] for argv in ran(tmp_path)]


def state_with(uids: dict[str, str]) -> str:
    """A state document tracking the module's Services under ``uids`` (by name)."""
    resources = [
        {
            "mode": "managed",
            "type": tfstate.SERVICE_TYPE,
            "name": name,
            "instances": [{"attributes": {"metadata": [{"uid": uid}]}}],
        }
        for name, uid in uids.items()
    ]
    return json.dumps({"version": 4, "resources": resources})


def service(name: str, uid: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "team-a", "uid": uid, "labels": labels}}


def ours(name: str, uid: str) -> dict[str, Any]:
    return service(name, uid, **names.release_labels("shop"))


# -- module checksum --------------------------------------------------------------


def test_checksum_is_stable_and_covers_tf_files_and_lock_file(tmp_path: Path) -> None:
    module = tmp_path / "module"
    shutil.copytree(MODULE, module, ignore=shutil.ignore_patterns(".terraform"))
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
    with pytest.raises(FileNotFoundError):
        module_checksum(tmp_path)


def test_adapter_exposes_the_module_checksum(tmp_path: Path) -> None:
    assert infra(tmp_path).module_checksum == module_checksum(MODULE)


# -- command lines (python-terraform builds them) ---------------------------------


def test_plan_command_lines_read_json_and_use_our_var_file_only() -> None:
    commands = TerraformCommands("/bin/terraform", "5s")
    before = set(Path("/tmp").glob("*.tfvars.json"))
    plan = commands.plan(lock=True)
    assert plan.output is Output.JSON_STREAM and plan.argv[:2] == ("/bin/terraform", "plan")
    assert {"-json", "-detailed-exitcode", f"-out={PLAN_FILE}", f"-var-file={VAR_FILE}"} <= set(
        plan.argv
    )
    assert {"-lock-timeout=5s", "-input=false", "-no-color"} <= set(plan.argv)
    assert [a for a in plan.argv if a.startswith("-var")] == [f"-var-file={VAR_FILE}"]
    drift = commands.plan(lock=False)
    assert "-lock=false" in drift.argv and not any("lock-timeout" in a for a in drift.argv)
    assert set(Path("/tmp").glob("*.tfvars.json")) == before


def test_other_command_lines() -> None:
    commands = TerraformCommands("tf", "5s")
    apply = commands.apply_plan()
    assert apply.argv[1] == "apply" and apply.argv[-1] == PLAN_FILE
    assert {"-auto-approve=true", "-json"} <= set(apply.argv)
    assert not any(a.startswith("-var") for a in apply.argv)  # a saved plan refuses variables
    destroy = commands.destroy()
    assert {"-auto-approve=true", "-json", f"-var-file={VAR_FILE}"} <= set(destroy.argv)
    assert "-force" not in destroy.argv
    assert commands.show_plan().argv == ("tf", "show", "-json", "-no-color", PLAN_FILE)
    assert commands.outputs().argv == ("tf", "output", "-json", "-no-color")
    assert commands.state_pull().argv == ("tf", "state", "pull")
    assert commands.force_unlock("abc-123").argv == (
        "tf",
        "force-unlock",
        "-force",
        "-no-color",
        "abc-123",
    )
    assert commands.state_rm("a.b").argv[-1] == "a.b"
    imported = commands.import_resource("a.b", "ns/name")
    assert imported.argv[-2:] == ("a.b", "ns/name") and imported.output is Output.TEXT
    init = commands.init({"secret_suffix": "team-a-shop"})
    assert {"-backend-config=secret_suffix=team-a-shop", "-reconfigure"} <= set(init.argv)


def test_variables_never_travel_as_a_dict() -> None:
    with pytest.raises(ValueError, match="var file"):
        _ArgvOnly(terraform_bin_path="tf").plan(var={"secret_token": "x"}, json=IsFlagged)


def test_var_file_is_private_and_replaces_leftovers(tmp_path: Path) -> None:
    path = tmp_path / VAR_FILE
    path.write_text("leftover of a crashed run")
    path.chmod(0o644)
    write_private(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- configuration ----------------------------------------------------------------


async def test_unknown_and_reserved_variables_are_refused_before_running(tmp_path: Path) -> None:
    adapter = infra(tmp_path)
    with pytest.raises(InfrastructureError, match="unknown Terraform variables: servce_port"):
        await adapter.apply(inputs(servce_port=8080))
    with pytest.raises(InfrastructureError, match="operator only: kubeconfig_path"):
        await adapter.apply(inputs(kubeconfig_path="/etc/kubernetes/admin.conf"))
    assert not (tmp_path / "work").exists()


async def test_invalid_state_keys_never_become_paths(tmp_path: Path) -> None:
    release = dataclasses.replace(inputs(), release="..", release_namespace="x/..")
    with pytest.raises(InfrastructureError, match="invalid state key"):
        await infra(tmp_path).apply(release)


def test_backend_is_in_cluster_without_a_kubeconfig(tmp_path: Path) -> None:
    assert infra(tmp_path).backend_config("team-a-shop") == {
        "secret_suffix": "team-a-shop",
        "namespace": "bluegreen-system",
        "in_cluster_config": "true",
    }
    kubeconfig = tmp_path / "kubeconfig"
    local = infra(tmp_path, kubeconfig=kubeconfig, state_namespace="ops")
    assert local.backend_config("k") == {
        "secret_suffix": "k",
        "namespace": "ops",
        "config_path": str(kubeconfig),
    }
    assert local.env["KUBE_CONFIG_PATH"] == str(kubeconfig)


def test_environment_is_automation_only_and_ignores_ambient_terraform_settings() -> None:
    ambient = {
        "TF_VAR_service_port": "1",
        "TF_CLI_ARGS_plan": "-refresh=false",
        "TF_PLUGIN_CACHE_DIR": "/shared",
        "TF_WORKSPACE": "other",
        "KUBECONFIG": "/home/me/.kube/config",
        "KUBE_CONFIG_PATH": "/home/me/.kube/config",
        "TF_CLI_CONFIG_FILE": "/toolchain/terraformrc",
        "PATH": "/bin",
    }
    env = terraform_environment(ambient, kubeconfig=None)
    assert env == {
        "TF_CLI_CONFIG_FILE": "/toolchain/terraformrc",
        "PATH": "/bin",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }


# -- operations on Terraform's real output ----------------------------------------


async def test_drift_is_read_from_the_saved_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = stand_in(tmp_path, monkeypatch, plan="replay plan-drift", show="replay show-drift")
    report = await infra(tmp_path, terraform_bin=str(cli)).detect_drift(inputs())
    assert report.drifted
    assert report.summary == "kubernetes_service_v1.stable will be updated in-place"
    plan = next(argv for argv in ran(tmp_path) if argv[0] == "plan")
    assert {"-json", "-lock=false", f"-out={PLAN_FILE}"} <= set(plan)
    assert commands_run(tmp_path) == ["init", "plan", "show"]


async def test_no_drift_runs_no_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = stand_in(tmp_path, monkeypatch, plan="replay plan-no-changes")
    report = await infra(tmp_path, terraform_bin=str(cli)).detect_drift(inputs())
    assert not report.drifted
    assert commands_run(tmp_path) == ["init", "plan"]


async def test_a_failed_plan_reports_terraforms_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = stand_in(tmp_path, monkeypatch, plan="replay plan-invalid-variable")
    with pytest.raises(InfrastructureError) as failed:
        await infra(tmp_path, terraform_bin=str(cli)).apply(inputs())
    assert str(failed.value) == (
        "terraform plan failed: Invalid value for variable: "
        "service_type must be one of ClusterIP, NodePort or LoadBalancer."
    )
    workdir = tmp_path / "work" / KEY
    assert not (workdir / VAR_FILE).exists()


async def test_a_plan_writing_a_service_not_judged_ours_is_never_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No Service was found before planning, yet the plan updates one that exists.
    cli = stand_in(tmp_path, monkeypatch, plan="replay plan-drift", show="replay show-drift")
    with pytest.raises(InfrastructureError, match=r"^ServiceNotOwned: Service team-a/shop "):
        await infra(tmp_path, terraform_bin=str(cli)).apply(inputs())
    assert "apply" not in commands_run(tmp_path)


async def test_apply_of_tracked_services_and_its_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = FakeCluster()
    cluster.services[("team-a", "shop")] = ours("shop", "uid-of-stable")
    cluster.services[("team-a", "shop-preview")] = ours("shop-preview", "uid-of-preview")
    state = tmp_path / "state.json"
    state.write_text(state_with({"stable": "uid-of-stable", "preview": "uid-of-preview"}))
    cli = stand_in(
        tmp_path,
        monkeypatch,
        state=f"cat '{state}'",
        plan="replay plan-drift",
        show="replay show-drift",
        output="replay output-applied",
    )
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    outputs = await infra(tmp_path, cluster, terraform_bin=str(cli)).apply(inputs())
    assert outputs == InfrastructureOutputs("shop", "shop-preview", "10.96.0.10", "10.96.0.11")
    assert commands_run(tmp_path) == ["init", "state pull", "plan", "show", "apply", "output"]
    assert "terraform apply for team-a" in caplog.text
    assert "kubernetes_service_v1.stable will be updated in-place" in caplog.text


async def test_our_untracked_service_is_imported_and_a_foreign_one_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = FakeCluster()
    cluster.services[("team-a", "shop")] = ours("shop", "uid-1")
    imported = tmp_path / "imported"
    state = tmp_path / "state.json"
    state.write_text(state_with({"stable": "uid-1"}))
    cli = stand_in(
        tmp_path,
        monkeypatch,
        # The state holds the Service once it was imported.
        state=f"if [[ -f '{imported}' ]]; then cat '{state}'; fi",
        import_=f"touch '{imported}'",
        plan="replay plan-no-changes",
    )
    adapter = infra(tmp_path, cluster, terraform_bin=str(cli))
    await adapter.apply(inputs())
    imports = [argv for argv in ran(tmp_path) if argv[0] == "import"]
    assert [argv[-2:] for argv in imports] == [["kubernetes_service_v1.stable", "team-a/shop"]]

    cluster.services[("team-a", "shop-preview")] = service("shop-preview", "uid-2", team="x")
    with pytest.raises(InfrastructureError, match=r"^ServiceNotOwned: Service team-a/shop-prev"):
        await adapter.apply(inputs())


async def test_destroy_with_nothing_to_destroy_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = stand_in(tmp_path, monkeypatch)
    (tmp_path / "work" / KEY).mkdir(parents=True)
    await infra(tmp_path, terraform_bin=str(cli)).destroy(inputs())
    assert ran(tmp_path) == []
    assert not (tmp_path / "work" / KEY).exists()


async def test_destroy_then_the_empty_state_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = FakeCluster()
    empty = base64.b64encode(gzip.compress(b'{"version": 4, "resources": []}')).decode()
    cluster.secrets[KEY] = {"metadata": {"uid": "s"}, "data": {"tfstate": empty}}
    cli = stand_in(tmp_path, monkeypatch)
    await infra(tmp_path, cluster, terraform_bin=str(cli)).destroy(inputs())
    assert commands_run(tmp_path) == ["init", "state pull", "destroy"]
    assert cluster.deleted == [f"secret/{KEY}"]
    assert not (tmp_path / "work" / KEY).exists()


# -- the state lock ----------------------------------------------------------------


def locked_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Plans fail on the held lock until force-unlock ran; then there is nothing to do."""
    unlocked = tmp_path / "unlocked"
    return stand_in(
        tmp_path,
        monkeypatch,
        plan=f"[[ -f '{unlocked}' ]] || replay plan-locked",
        force_unlock=f"touch '{unlocked}'",
    )


def lock_lease(lock_id: str, created: datetime | None) -> dict[str, Any]:
    info = {"ID": lock_id, "Operation": "OperationTypeApply", "Who": "root@killed-pod"}
    if created is not None:
        info["Created"] = created.isoformat().replace("+00:00", "Z")
    return {
        "metadata": {"annotations": {LOCK_INFO_ANNOTATION: json.dumps(info)}},
        "spec": {"holderIdentity": lock_id},
    }


async def test_a_young_lock_is_left_alone_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = FakeCluster()
    taken = datetime.now(UTC) - timedelta(seconds=30)
    cluster.leases[KEY] = lock_lease("lock-1", taken)
    cli = locked_stand_in(tmp_path, monkeypatch)
    with pytest.raises(InfrastructureError) as failed:
        await infra(tmp_path, cluster, terraform_bin=str(cli), timeout_seconds=100).apply(inputs())
    assert str(failed.value) == (
        "terraform plan failed: the release's state is locked (lock lock-1, taken "
        f"{taken.isoformat(timespec='seconds')}); a lock older than 120s is force-unlocked "
        "by the next run"
    )
    assert "force-unlock" not in commands_run(tmp_path)


async def test_a_stale_lock_is_force_unlocked_and_the_step_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = FakeCluster()
    cluster.leases[KEY] = lock_lease("lock-2", datetime.now(UTC) - timedelta(hours=1))
    cli = locked_stand_in(tmp_path, monkeypatch)
    caplog.set_level(logging.WARNING, logger=ADAPTER_LOG)
    await infra(tmp_path, cluster, terraform_bin=str(cli), timeout_seconds=100).apply(inputs())
    assert commands_run(tmp_path) == [
        *("init", "state pull", "plan"),
        *("force-unlock", "plan", "output"),
    ]
    assert next(argv for argv in ran(tmp_path) if argv[0] == "force-unlock")[-1] == "lock-2"
    assert "lock lock-2 is 36" in caplog.text  # ~3600 s old
    assert "stale lock lock-2 force-unlocked" in caplog.text


async def test_a_stale_lock_met_by_init_is_broken_through_its_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A run killed before the release's first state existed: init itself meets the
    # lock, and force-unlock can't run before init. The Lease goes, fenced.
    cluster = FakeCluster()
    lease = lock_lease("lock-4", datetime.now(UTC) - timedelta(hours=1))
    lease["metadata"].update(uid="lease-uid", resourceVersion="41")
    cluster.leases[KEY] = lease
    cli = stand_in(
        tmp_path,
        monkeypatch,
        init=f"[[ -f '{tmp_path}/inited' ]] || {{ touch '{tmp_path}/inited'; replay init-locked; }}"
        "; mkdir -p .terraform",
    )
    caplog.set_level(logging.WARNING, logger=ADAPTER_LOG)
    await infra(tmp_path, cluster, terraform_bin=str(cli), timeout_seconds=100).apply(inputs())
    assert commands_run(tmp_path)[:2] == ["init", "init"]
    assert cluster.deleted == [f"lease/{KEY}"]
    assert cluster.deleted_versions == [("lease-uid", "41")]
    assert "lock lock-4 is 36" in caplog.text and "breaking it" in caplog.text


async def test_a_young_lock_met_by_init_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = FakeCluster()
    cluster.leases[KEY] = lock_lease("lock-5", datetime.now(UTC) - timedelta(seconds=10))
    cli = stand_in(tmp_path, monkeypatch, init="replay init-locked")
    with pytest.raises(InfrastructureError, match=r"terraform init failed: .*lock lock-5"):
        await infra(tmp_path, cluster, terraform_bin=str(cli), timeout_seconds=100).apply(inputs())
    assert cluster.deleted == []


async def test_a_lock_released_meanwhile_is_just_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = tmp_path / "released"
    cli = stand_in(
        tmp_path,
        monkeypatch,
        plan=f"[[ -f '{released}' ]] || {{ touch '{released}'; replay plan-locked; }}",
    )
    await infra(tmp_path, terraform_bin=str(cli)).apply(inputs())  # no Lease: free
    assert commands_run(tmp_path) == ["init", "state pull", "plan", "plan", "output"]


async def test_a_lock_of_unknown_age_is_never_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = FakeCluster()
    cluster.leases[KEY] = lock_lease("lock-3", None)
    cli = locked_stand_in(tmp_path, monkeypatch)
    with pytest.raises(InfrastructureError, match=r"\(lock lock-3, taken an unknown time\)"):
        await infra(tmp_path, cluster, terraform_bin=str(cli), stale_lock_seconds=0).apply(inputs())
    assert "force-unlock" not in commands_run(tmp_path)


# -- scheduling ----------------------------------------------------------------------


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
    cli = stand_in(
        tmp_path,
        monkeypatch,
        plan="sleep 0.4",
        output='echo \'{"stable_service_name": {"value": "shop"}}\'',
    )
    adapter = infra(tmp_path, terraform_bin=str(cli), max_concurrency=2)
    releases = [dataclasses.replace(inputs(), release=f"r{i}") for i in range(4)]
    results = await asyncio.gather(
        *(adapter.apply(r) for r in releases), adapter.detect_drift(releases[0])
    )
    first = results[0]
    assert isinstance(first, InfrastructureOutputs)
    assert first.stable_service == "shop"
    assert first.preview_service == "shop-preview"  # not in the outputs: from inputs
    most, per_release = overlaps(tmp_path / "runs.log", "plan")
    assert most == 2  # parallel, but never beyond max_concurrency
    assert set(per_release.values()) == {1}  # one run per release at a time
    commands = commands_run(tmp_path)
    assert "apply" not in commands  # plan exited 0: nothing to apply
    assert commands.count("init") == 4  # r0's second run reused its init


async def test_cancelling_a_run_interrupts_the_cli_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Like Terraform, the plan stops on SIGINT at any instant: also one that comes
    # before its `sleep` started, which a foreground `sleep` would outlive (bash runs
    # a trap only after the command it waits for), then wait out the kill grace.
    cli = stand_in(tmp_path, monkeypatch, plan="sleep 30 >/dev/null 2>&1 & wait $!")
    adapter = infra(tmp_path, terraform_bin=str(cli))
    task = asyncio.create_task(adapter.apply(inputs()))
    workdir = tmp_path / "work" / KEY
    deadline = time.monotonic() + 10
    while "plan" not in commands_run(tmp_path):
        assert time.monotonic() < deadline, "the run never started"
        await asyncio.sleep(0.02)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5  # SIGINT ends `sleep`; no 20 s kill grace needed
    assert not (workdir / VAR_FILE).exists()
    # The release is free again: a new run is not blocked by the cancelled one.
    stand_in(tmp_path, monkeypatch)
    assert (await adapter.detect_drift(inputs())).drifted is False


async def test_a_run_past_its_timeout_fails_clearly_and_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "plan.pid"
    cli = stand_in(tmp_path, monkeypatch, plan=f"echo $$ > '{pid_file}'; sleep 30")
    started = time.monotonic()
    with pytest.raises(InfrastructureError) as failed:
        await infra(tmp_path, terraform_bin=str(cli), timeout_seconds=1).apply(inputs())
    assert str(failed.value) == "terraform plan timed out after 1s: interrupted"
    assert time.monotonic() - started < 5
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
