"""The Terraform command lines the adapter runs, built by python-terraform.

The only module that imports python-terraform, and it uses it for one thing:
turning keyword options into a command line (``generate_cmd_string``, reached
through its per-command methods so their defaults such as ``-input=false`` and
``-no-color`` apply). Its runner is never used: it blocks, cannot time out,
and turns variables into files it leaks in /tmp (``process`` runs the argv;
variables travel only through the release's own var file, see ``workdir``).

Each ``Command`` says how its output is read: Terraform 1.5 has ``-json`` for
plan, apply and destroy (a stream of JSON messages, diagnostics included);
``show -json``, ``output -json`` and ``state pull`` print one JSON document
(failures as text on stderr); init, import, state rm and force-unlock print
human text only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from bluegreen.adapters.terraform.workdir import PLAN_FILE, VAR_FILE


class Output(Enum):
    JSON_STREAM = "json-stream"
    """``-json``: one JSON message per line on stdout, diagnostics included."""
    JSON_DOCUMENT = "json-document"
    """One JSON document on stdout; diagnostics as text on stderr."""
    TEXT = "text"
    """Human text; diagnostics on stderr."""


@dataclass(frozen=True)
class Command:
    name: str
    """What it is called in messages: ``plan``, ``state rm``."""
    argv: tuple[str, ...]
    output: Output


class _ArgvOnly(Terraform):  # type: ignore[misc]  # python-terraform is untyped
    """python-terraform whose command methods return the argv instead of running it."""

    def read_state_file(self, file_path: Any = None) -> None:
        # python-terraform reads ./terraform.tfstate whenever it is built or a
        # command succeeds; our state lives in the backend, never on disk here.
        return None

    def cmd(self, cmd: str, *args: Any, **kwargs: Any) -> tuple[str, ...]:
        for option in ("capture_output", "raise_on_error", "synchronous"):
            kwargs.pop(option, None)
        # python-terraform adds ``var={}`` to most commands and would turn a
        # non-empty dict into a temp file in /tmp that it leaks on errors.
        if kwargs.pop("var", None):
            raise ValueError("pass variables through the var file")
        return tuple(str(arg) for arg in self.generate_cmd_string(cmd, *args, **kwargs))


class TerraformCommands:
    """Every command the adapter runs, for one binary and lock timeout."""

    def __init__(self, terraform_bin: str, lock_timeout: str) -> None:
        self._tf = _ArgvOnly(terraform_bin_path=terraform_bin)
        self._lock_timeout = lock_timeout

    def init(self, backend_config: Mapping[str, str]) -> Command:
        argv = self._tf.init(backend_config=dict(backend_config), reconfigure=IsFlagged)
        return Command("init", argv, Output.TEXT)

    def plan(self, *, lock: bool) -> Command:
        """A saved plan (``PLAN_FILE``); exit code 0 = no changes, 2 = changes.

        ``lock=False`` for drift checks: they write nothing, and must neither
        queue behind a lock nor leave one behind.
        """
        locking: dict[str, Any] = {"lock_timeout": self._lock_timeout} if lock else {"lock": False}
        argv = self._tf.plan(
            detailed_exitcode=IsFlagged,
            out=PLAN_FILE,
            var_file=VAR_FILE,
            input=False,
            json=IsFlagged,
            **locking,
        )
        return Command("plan", argv, Output.JSON_STREAM)

    def show_plan(self) -> Command:
        argv = self._tf.cmd("show", PLAN_FILE, json=IsFlagged, no_color=IsFlagged)
        return Command("show", argv, Output.JSON_DOCUMENT)

    def apply_plan(self) -> Command:
        # A saved plan carries its variables; -var-file would be refused.
        argv = self._tf.apply(
            PLAN_FILE, skip_plan=True, lock_timeout=self._lock_timeout, json=IsFlagged
        )
        return Command("apply", argv, Output.JSON_STREAM)

    def destroy(self) -> Command:
        # destroy() defaults to -force, which Terraform >= 0.15 refuses.
        argv = self._tf.destroy(
            force=IsNotFlagged,
            auto_approve=True,
            var_file=VAR_FILE,
            lock_timeout=self._lock_timeout,
            input=False,
            json=IsFlagged,
        )
        return Command("destroy", argv, Output.JSON_STREAM)

    def outputs(self) -> Command:
        # output() itself expects the pre-0.12 JSON shape and raises TypeError.
        argv = self._tf.output_cmd(json=IsFlagged, no_color=IsFlagged)
        return Command("output", argv, Output.JSON_DOCUMENT)

    def state_pull(self) -> Command:
        return Command("state pull", self._tf.cmd("state pull"), Output.JSON_DOCUMENT)

    def import_resource(self, address: str, resource_id: str) -> Command:
        argv = self._tf.cmd(
            "import",
            address,
            resource_id,
            var_file=VAR_FILE,
            lock_timeout=self._lock_timeout,
            input=False,
            no_color=IsFlagged,
        )
        return Command("import", argv, Output.TEXT)

    def state_rm(self, address: str) -> Command:
        argv = self._tf.cmd(
            "state rm", address, lock_timeout=self._lock_timeout, no_color=IsFlagged
        )
        return Command("state rm", argv, Output.TEXT)

    def force_unlock(self, lock_id: str) -> Command:
        argv = self._tf.cmd("force-unlock", lock_id, force=IsFlagged, no_color=IsFlagged)
        return Command("force-unlock", argv, Output.TEXT)
