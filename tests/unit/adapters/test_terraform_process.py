"""Running Terraform: asyncio subprocesses under a deadline, and what a failure reports.

The commands are small real scripts: they stand in for a Terraform that hangs,
ignores SIGINT or starts plugins, and replay Terraform's real output
(``terraform_fixtures``) for failures.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from terraform_fixtures import replay_script

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform.commands import Command, Output, TerraformCommands
from bluegreen.adapters.terraform.diagnostics import MAX_SUMMARY_CHARS
from bluegreen.adapters.terraform.process import ProcessRunner, StoppedError
from bluegreen.adapters.terraform.session import (
    CommandFailedError,
    InitSettings,
    Session,
    open_session,
)
from bluegreen.adapters.terraform.workdir import PLAN_FILE, VAR_FILE, ReleaseDir

ENV = {"PATH": os.environ["PATH"]}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


def wait_dead(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not pid_alive(pid)


def wait_for_file(path: Path, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


# -- the runner -----------------------------------------------------------------


async def test_a_finished_command_returns_its_output(tmp_path: Path) -> None:
    runner = ProcessRunner(timeout_seconds=10, grace_seconds=1, env=ENV)
    finished = await runner.run(["sh", "-c", "echo out; echo err >&2; exit 2"], tmp_path)
    assert (finished.returncode, finished.stdout, finished.stderr) == (2, "out\n", "err\n")


async def test_the_environment_is_exactly_the_one_given(tmp_path: Path) -> None:
    runner = ProcessRunner(10, 1, env={"PATH": os.environ["PATH"], "ONLY": "this"})
    finished = await runner.run(["sh", "-c", "env"], tmp_path)
    names = {line.split("=", 1)[0] for line in finished.stdout.splitlines()}
    assert "ONLY" in names and "HOME" not in names


async def test_the_deadline_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    runner = ProcessRunner(timeout_seconds=0.5, grace_seconds=1, env=ENV)
    started = time.monotonic()
    # The child stands in for a provider plugin: it must die with its parent,
    # even though (as a background job of sh) it ignores SIGINT.
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    with pytest.raises(StoppedError, match=r"timed out after 0\.5s"):
        await runner.run(["sh", "-c", script], tmp_path)
    assert time.monotonic() - started < 4
    assert await asyncio.to_thread(wait_dead, int(pid_file.read_text()))


async def test_sigint_lets_the_command_finish_its_cleanup(tmp_path: Path) -> None:
    marker = tmp_path / "saved"
    runner = ProcessRunner(timeout_seconds=0.5, grace_seconds=5, env=ENV)
    script = (
        f"trap 'echo state > {marker}; echo bye >&2; exit 130' INT; while :; do sleep 0.05; done"
    )
    with pytest.raises(StoppedError) as stopped:
        await runner.run(["bash", "-c", script], tmp_path)
    assert marker.read_text().strip() == "state"
    assert stopped.value.reason == "timed out after 0.5s"
    assert not stopped.value.killed
    assert stopped.value.stderr == "bye\n"


async def test_a_command_ignoring_sigint_is_killed_after_the_grace(tmp_path: Path) -> None:
    runner = ProcessRunner(timeout_seconds=0.3, grace_seconds=0.5, env=ENV)
    started = time.monotonic()
    with pytest.raises(StoppedError) as stopped:
        await runner.run(["bash", "-c", "trap '' INT; while :; do sleep 0.05; done"], tmp_path)
    assert stopped.value.killed
    assert time.monotonic() - started < 4


async def test_the_deadline_covers_the_whole_operation(tmp_path: Path) -> None:
    runner = ProcessRunner(timeout_seconds=0.6, grace_seconds=1, env=ENV)
    await runner.run(["sleep", "0.4"], tmp_path)
    with pytest.raises(StoppedError, match="timed out"):
        await runner.run(["sleep", "0.4"], tmp_path)
    # Stopped for good: nothing more starts.
    with pytest.raises(StoppedError, match="timed out"):
        await runner.run(["touch", str(tmp_path / "ran")], tmp_path)
    assert not (tmp_path / "ran").exists()


async def test_cancelling_interrupts_the_command_and_waits_for_it(tmp_path: Path) -> None:
    marker, pid_file = tmp_path / "saved", tmp_path / "pid"
    interrupted, release = tmp_path / "interrupted", tmp_path / "release"
    runner = ProcessRunner(timeout_seconds=60, grace_seconds=30, env=ENV)
    # The pid is written once the trap is set, so the SIGINT cannot come first, and
    # once the runner reads the output: 2 MiB fill the pipe and asyncio's buffers, so
    # the write returns only when the runner waits on the command (cancelled while
    # it still spawns, the runner would not interrupt it). The cleanup says it
    # started, then holds until the test lets it finish.
    script = (
        f"trap 'touch {interrupted}; while [ ! -e {release} ]; do sleep 0.02; done; "
        f"echo state > {marker}; exit 130' INT; head -c 2097152 /dev/zero; "
        f"echo $$ > {pid_file}; while :; do sleep 0.05; done"
    )
    task = asyncio.create_task(runner.run(["bash", "-c", script], tmp_path))
    await asyncio.to_thread(wait_for_file, pid_file)
    task.cancel()
    await asyncio.to_thread(wait_for_file, interrupted)
    task.cancel()  # impatient: a second cancellation must not abandon the process
    # Still waiting for the command's cleanup, however many turns the loop takes.
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done(), "the second cancellation abandoned the command"
    release.touch()
    with pytest.raises(asyncio.CancelledError):
        await task
    # By the time the cancellation surfaces, the command has finished its cleanup.
    assert marker.read_text().strip() == "state"
    assert not pid_alive(int(pid_file.read_text()))
    with pytest.raises(StoppedError, match="cancelled"):
        await runner.run(["true"], tmp_path)


# -- failures, as the adapter reports them ----------------------------------------


def replayed(tmp_path: Path, scenario: str, output: Output, name: str = "plan") -> Command:
    script = replay_script(tmp_path / f"{scenario}.sh", scenario)
    return Command(name, (str(script),), output)


async def failure_message(tmp_path: Path, command: Command, secrets: list[str]) -> str:
    """What ``open_session`` raises when ``command`` fails in it."""
    workdir = ReleaseDir(tmp_path / "release")
    workdir.path.mkdir()
    (workdir.path / ".terraform").mkdir()
    workdir.mark_initialized("ready")
    commands = TerraformCommands("terraform", "5s")
    runner = ProcessRunner(10, 1, ENV)
    init = InitSettings({}, "ready")
    with pytest.raises(InfrastructureError) as failed:
        async with open_session(
            workdir, commands, runner, variables={"a": 1}, init=init, secrets=secrets
        ) as session:
            await session.run(command)
    # Whatever failed, the inputs and the plan are gone and the next run re-inits.
    assert not (workdir.path / VAR_FILE).exists() and not (workdir.path / PLAN_FILE).exists()
    assert not workdir.initialized_as("ready")
    return str(failed.value)


async def test_a_json_failure_reports_the_diagnostic(tmp_path: Path) -> None:
    command = replayed(tmp_path, "plan-invalid-variable", Output.JSON_STREAM)
    message = await failure_message(tmp_path, command, [])
    assert message == (
        "terraform plan failed: Invalid value for variable: "
        "service_type must be one of ClusterIP, NodePort or LoadBalancer."
    )


async def test_a_text_failure_reports_the_diagnostic(tmp_path: Path) -> None:
    command = replayed(tmp_path, "import-unknown-address", Output.TEXT, name="import")
    message = await failure_message(tmp_path, command, [])
    assert message.startswith(
        'terraform import failed: resource address "kubernetes_service_v1.nope" '
        "does not exist in the configuration. Before importing this resource"
    )


async def test_the_failure_message_is_bounded_and_redacted(tmp_path: Path) -> None:
    secret = "hunter2-the-password"
    body = f"Error: Kaboom\n\n{'lorem ipsum ' * 400}{secret}\n"
    script = tmp_path / "long.sh"
    script.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{body}EOF\nexit 1\n")
    script.chmod(0o755)
    command = Command("init", (str(script),), Output.TEXT)
    message = await failure_message(tmp_path, command, [secret])
    assert message.startswith("terraform init failed: Kaboom: lorem ipsum")
    assert len(message) <= len("terraform init failed: ") + MAX_SUMMARY_CHARS
    assert "hunter2" not in message


async def test_a_json_command_that_dies_before_its_json_view_reports_stderr(
    tmp_path: Path,
) -> None:
    script = tmp_path / "crash.sh"
    script.write_text("#!/bin/sh\necho 'panic: runtime error: nil map' >&2\nexit 11\n")
    script.chmod(0o755)
    crashing = Command("apply", (str(script),), Output.JSON_STREAM)
    message = await failure_message(tmp_path, crashing, [])
    assert message == "terraform apply failed: panic: runtime error: nil map"


async def test_a_timeout_is_reported_as_one(tmp_path: Path) -> None:
    workdir = ReleaseDir(tmp_path)
    (tmp_path / ".terraform").mkdir()
    workdir.mark_initialized("ready")
    runner = ProcessRunner(timeout_seconds=0.3, grace_seconds=0.3, env=ENV)
    with pytest.raises(InfrastructureError) as failed:
        async with open_session(
            workdir,
            TerraformCommands("terraform", "5s"),
            runner,
            variables={},
            init=InitSettings({}, "ready"),
            secrets=[],
        ) as session:
            await session.run(Command("plan", ("bash", "-c", "trap '' INT; sleep 30"), Output.TEXT))
    assert str(failed.value).startswith("terraform plan timed out after 0.3s: killed after ")


async def test_expected_exit_codes_and_json_documents(tmp_path: Path) -> None:
    session = Session(ReleaseDir(tmp_path), TerraformCommands("t", "5s"), ProcessRunner(10, 1, ENV))
    changes = replayed(tmp_path, "plan-drift", Output.JSON_STREAM)
    assert (await session.run(changes, ok=(0, 2))).returncode == 2
    with pytest.raises(CommandFailedError) as failed:
        await session.run(changes)
    assert failed.value.diagnostics == [] and failed.value.finished.returncode == 2

    shown = replayed(tmp_path, "show-drift", Output.JSON_DOCUMENT, name="show")
    assert (await session.json(shown))["format_version"].startswith("1.")
    empty = Command("state pull", ("true",), Output.JSON_DOCUMENT)
    assert await session.json(empty) == {}
    garbage = Command("show", ("echo", "[1]"), Output.JSON_DOCUMENT)
    with pytest.raises(InfrastructureError, match="terraform show printed no JSON object"):
        await session.json(garbage)
