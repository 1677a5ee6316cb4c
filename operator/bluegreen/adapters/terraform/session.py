"""One operation's Terraform commands in one release's initialized working directory.

A session writes the release's variables, runs ``terraform init`` when the
directory is not set up the same way already, runs commands and reads their
output, and removes the variables and the saved plan when it ends. Its
failures leave as ``InfrastructureError`` with a bounded, secret-free summary
built from Terraform's diagnostics.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform import diagnostics
from bluegreen.adapters.terraform.commands import Command, Output, TerraformCommands
from bluegreen.adapters.terraform.diagnostics import Diagnostic
from bluegreen.adapters.terraform.process import Finished, ProcessRunner, StoppedError
from bluegreen.adapters.terraform.workdir import ReleaseDir

log = logging.getLogger(__name__)


class CommandFailedError(Exception):
    """A command exited with an unexpected code; ``diagnostics`` says why."""

    def __init__(self, command: Command, finished: Finished) -> None:
        super().__init__(command.name)
        self.command = command
        self.finished = finished
        self.diagnostics = read_diagnostics(command, finished)

    @property
    def is_lock_error(self) -> bool:
        return diagnostics.is_lock_error(self.diagnostics)


class CommandStoppedError(Exception):
    def __init__(self, command: Command, stopped: StoppedError) -> None:
        super().__init__(command.name)
        self.command = command
        self.stopped = stopped


def read_diagnostics(command: Command, finished: Finished) -> list[Diagnostic]:
    """The command's diagnostics, from its JSON stream where it has one.

    A ``-json`` command that fails before its JSON view exists (a crash, a
    plugin that cannot start) prints text on stderr instead.
    """
    if command.output is Output.JSON_STREAM:
        found = diagnostics.from_json_stream(finished.stdout)
        if any(d.is_error for d in found) or finished.returncode == 0:
            return found
        return found + diagnostics.from_text(finished.stderr)
    return diagnostics.from_text(finished.stderr or finished.stdout)


@dataclass(frozen=True)
class InitSettings:
    backend_config: Mapping[str, str]
    fingerprint: str
    """Digest of everything init depends on; init is skipped while it is unchanged."""


class Session:
    def __init__(self, workdir: ReleaseDir, commands: TerraformCommands, runner: ProcessRunner):
        self.workdir = workdir
        self.commands = commands
        self._runner = runner

    async def run(self, command: Command, ok: Sequence[int] = (0,)) -> Finished:
        """Run ``command``; ``CommandFailedError`` on an exit code not in ``ok``."""
        started = time.monotonic()
        try:
            finished = await self._runner.run(command.argv, self.workdir.path)
        except StoppedError as stopped:
            raise CommandStoppedError(command, stopped) from None
        log.debug(
            "terraform %s in %s: exit %d in %.1fs",
            command.name,
            self.workdir.path.name,
            finished.returncode,
            time.monotonic() - started,
        )
        if finished.returncode not in ok:
            raise CommandFailedError(command, finished)
        return finished

    async def json(self, command: Command) -> dict[str, Any]:
        """Run a command that prints one JSON object (empty output reads as ``{}``)."""
        finished = await self.run(command)
        try:
            document = json.loads(finished.stdout or "{}")
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise InfrastructureError(f"terraform {command.name} printed no JSON object")
        return document

    async def init(self, settings: InitSettings) -> None:
        """``terraform init``, skipped when this directory was already set up the same way.

        Init re-reads the provider mirror and lists the backend's workspaces
        every time; a no-change reconcile needs neither.
        """
        if self.workdir.initialized_as(settings.fingerprint):
            return
        await self.run(self.commands.init(settings.backend_config))
        self.workdir.mark_initialized(settings.fingerprint)


@asynccontextmanager
async def open_session(
    workdir: ReleaseDir,
    commands: TerraformCommands,
    runner: ProcessRunner,
    *,
    variables: Mapping[str, Any],
    init: InitSettings,
    secrets: Sequence[str],
    guard_init: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]] | None = None,
) -> AsyncIterator[Session]:
    """An initialized session with the var file in place; inputs and plan removed after.

    The files are a few KB on local disk (providers are symlinks into the
    mirror), written on the event loop.
    """
    session = Session(workdir, commands, runner)
    try:
        workdir.write_inputs(variables)
        if guard_init is None:
            await session.init(init)
        else:
            # A stale lock can stop init itself (see locks.StaleLockRecovery.run_init).
            await guard_init(lambda: session.init(init))
        yield session
    except CommandFailedError as failed:
        # Whatever went wrong, the next run starts with a fresh init.
        workdir.forget_init()
        summary = diagnostics.failure_summary(failed.diagnostics, secrets)
        if not failed.diagnostics:
            summary = f"exit code {failed.finished.returncode} and no error message"
        raise InfrastructureError(f"terraform {failed.command.name} failed: {summary}") from None
    except CommandStoppedError as failed:
        raise InfrastructureError(stopped_message(failed)) from None
    finally:
        workdir.clean_inputs()


def stopped_message(failed: CommandStoppedError) -> str:
    stopped = failed.stopped
    message = f"terraform {failed.command.name} {stopped.reason}"
    if stopped.killed:
        return (
            f"{message}: killed after ignoring SIGINT, so its state lock may be left "
            "behind (a later run force-unlocks it once it is stale)"
        )
    return f"{message}: interrupted"
