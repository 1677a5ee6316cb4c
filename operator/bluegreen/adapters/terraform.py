"""Terraform implementation of the infrastructure port.

The only module that imports python-terraform. It keeps python-terraform for
what it does well (turning keyword options into a Terraform command line) and
replaces what it does badly (see /work/shared notes and ``terraform_process``):

- commands run under a deadline and can be stopped (SIGINT, then SIGKILL of
  the process group) instead of blocking a thread forever;
- variables go through a ``0600`` ``*.tfvars.json`` written in the release's
  own working directory and deleted in ``finally``, never through
  python-terraform's leaked ``/tmp`` files;
- one working directory per release, one run per release at a time, at most
  ``max_concurrency`` runs overall, all off the event loop;
- a lock left behind by a killed run is force-unlocked once it is provably
  stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from bluegreen.adapters.infrastructure import Infrastructure, InfrastructureError
from bluegreen.adapters.terraform_process import ProcessGuard, TerraformStoppedError
from bluegreen.adapters.terraform_text import (
    declared_variables,
    is_lock_error,
    lock_created,
    lock_id,
    module_checksum,
    module_files,
    plan_changes,
    sensitive_values,
    summarize_error,
)
from bluegreen.adapters.terraform_workdir import PLAN_FILE, VAR_FILE, ReleaseDir
from bluegreen.core.infrastructure import (
    DriftReport,
    InfrastructureInputs,
    InfrastructureOutputs,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Result = tuple[int, str, str]

KILL_GRACE_SECONDS = 20.0
"""After SIGINT, how long Terraform gets to save state and unlock before SIGKILL."""

# Set by the operator only; a release's spec must not point the provider at
# another kubeconfig on the operator's disk.
_RESERVED_VARIABLES = frozenset({"kubeconfig_path"})
# The state key becomes a directory name and part of a Secret name.
_STATE_KEY = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?$")
# Ambient settings that would make a run depend on who started the operator.
_DROPPED_ENV_PREFIXES = ("TF_VAR_", "TF_CLI_ARGS")
_DROPPED_ENV = frozenset(
    {
        "TF_PLUGIN_CACHE_DIR",  # never shared between concurrent inits
        "TF_WORKSPACE",  # the state Secret name assumes the default workspace
        "TF_DATA_DIR",
        "TF_LOG",
        "TF_LOG_PATH",
        "KUBE_CONFIG_PATH",
        "KUBE_CONFIG_PATHS",
        "KUBECONFIG",
    }
)


class _CommandFailedError(Exception):
    def __init__(self, command: str, result: Result) -> None:
        super().__init__(command)
        self.command = command
        self.returncode, self.stdout, self.stderr = result


class _Terraform(Terraform):  # type: ignore[misc]  # python-terraform is untyped
    """python-terraform's option handling with our process handling."""

    def __init__(
        self, working_dir: Path, terraform_bin: str, env: Mapping[str, str], guard: ProcessGuard
    ) -> None:
        super().__init__(working_dir=str(working_dir), terraform_bin_path=terraform_bin)
        self._dir = working_dir
        self._env = env
        self._guard = guard

    def cmd(self, cmd: str, *args: Any, **kwargs: Any) -> Result:
        for option in ("capture_output", "raise_on_error", "synchronous"):
            kwargs.pop(option, None)
        # python-terraform adds ``var={}`` to every command and turns any dict
        # into a temp file in /tmp that it leaks on errors: variables only ever
        # travel through our own var file.
        if kwargs.get("var"):
            raise ValueError("pass variables through the var file")
        kwargs.pop("var", None)
        argv = self.generate_cmd_string(cmd, *args, **kwargs)
        started = time.monotonic()
        result = self._guard.run(argv, self._dir, self._env)
        log.debug(
            "terraform %s in %s: exit %d in %.1fs",
            cmd,
            self._dir.name,
            result[0],
            time.monotonic() - started,
        )
        return result

    def run(self, method: str, *args: Any, **kwargs: Any) -> Result:
        return cast(Result, getattr(self, method)(*args, **kwargs))


class TerraformInfrastructure:
    """Applies the bundled module (``terraform/``) once per release, state in Kubernetes.

    ``kubeconfig`` None means in-cluster credentials, for both the backend and
    the provider. ``timeout_seconds`` bounds one whole operation (init, plan,
    apply, outputs); a run past it is interrupted. A state lock older than
    ``stale_lock_seconds`` (default: the timeout plus the kill grace, which no
    run of ours can outlive) is force-unlocked.
    """

    def __init__(
        self,
        module_dir: Path,
        work_root: Path,
        *,
        state_namespace: str = "bluegreen-system",
        kubeconfig: Path | None = None,
        max_concurrency: int = 2,
        timeout_seconds: float = 300,
        lock_timeout: str = "30s",
        terraform_bin: str | None = None,
        stale_lock_seconds: float | None = None,
    ) -> None:
        binary = terraform_bin or shutil.which("terraform")
        if binary is None:
            raise InfrastructureError("terraform CLI not found on PATH")
        self._module_dir = Path(module_dir)
        self._work_root = Path(work_root)
        self._state_namespace = state_namespace
        self._kubeconfig = Path(kubeconfig).resolve() if kubeconfig else None
        self._timeout = timeout_seconds
        self._lock_timeout = lock_timeout
        self._terraform_bin = binary
        self._stale_after = (
            stale_lock_seconds
            if stale_lock_seconds is not None
            else timeout_seconds + KILL_GRACE_SECONDS
        )
        self.module_checksum = module_checksum(self._module_dir)
        declared = declared_variables(
            p.read_text() for p in module_files(self._module_dir) if p.suffix == ".tf"
        )
        self._declared = frozenset(declared)
        self._sensitive = frozenset(name for name, secret in declared.items() if secret)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._busy: dict[str, int] = {}
        self._busy_lock = threading.Lock()
        self._env = self._environment()

    # -- the port -----------------------------------------------------------

    async def apply(self, inputs: InfrastructureInputs) -> InfrastructureOutputs:
        variables = self._variables(inputs)
        return await self._run(
            inputs.state_key(), lambda guard: self._apply_sync(inputs, variables, guard)
        )

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        variables = self._variables(inputs)
        return await self._run(
            inputs.state_key(), lambda guard: self._drift_sync(inputs, variables, guard)
        )

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        variables = self._variables(inputs)
        await self._run(
            inputs.state_key(), lambda guard: self._destroy_sync(inputs, variables, guard)
        )

    # -- scheduling ---------------------------------------------------------

    async def _run(self, key: str, operation: Callable[[ProcessGuard], T]) -> T:
        if not _STATE_KEY.match(key):
            raise InfrastructureError(f"invalid state key {key!r}")
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        # Per-release lock first: a queued run for one release must not hold
        # one of the global slots while it waits.
        async with lock, self._semaphore:
            guard = ProcessGuard(self._timeout, KILL_GRACE_SECONDS)
            task = asyncio.ensure_future(asyncio.to_thread(self._tracked, key, operation, guard))
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                # A thread cannot be cancelled: interrupt Terraform so it saves
                # state and unlocks, and keep the release locked until it is gone.
                guard.stop("cancelled")
                _, pending = await asyncio.wait({task}, timeout=KILL_GRACE_SECONDS)
                if pending:
                    guard.kill()
                    await asyncio.wait({task})
                raise

    def _tracked(self, key: str, operation: Callable[[ProcessGuard], T], guard: ProcessGuard) -> T:
        with self._busy_lock:
            self._busy[key] = self._busy.get(key, 0) + 1
        try:
            return operation(guard)
        except TerraformStoppedError as stopped:
            raise InfrastructureError(f"terraform {stopped.reason}") from None
        finally:
            with self._busy_lock:
                self._busy[key] -= 1

    # -- operations (worker thread) -----------------------------------------

    def _apply_sync(
        self, inputs: InfrastructureInputs, variables: dict[str, Any], guard: ProcessGuard
    ) -> InfrastructureOutputs:
        key = inputs.state_key()
        with self._session(key, variables, guard) as tf:

            def plan_and_apply() -> None:
                plan = tf.run(
                    "plan",
                    detailed_exitcode=IsFlagged,
                    out=PLAN_FILE,
                    var_file=VAR_FILE,
                    lock_timeout=self._lock_timeout,
                    input=False,
                )
                if plan[0] == 0:
                    log.info("terraform plan for %s: no changes, nothing to apply", key)
                    return
                if plan[0] != 2:
                    raise _CommandFailedError("plan", plan)
                changes = plan_changes(plan[1])
                log.info("terraform apply for %s: %s", key, "; ".join(changes) or "changes")
                result = tf.run("apply", PLAN_FILE, skip_plan=True, lock_timeout=self._lock_timeout)
                if result[0] != 0:
                    raise _CommandFailedError("apply", result)

            self._with_lock_recovery(key, tf, variables, plan_and_apply)
            outputs = tf.run("output_cmd", json=IsFlagged, no_color=IsFlagged)
            if outputs[0] != 0:
                raise _CommandFailedError("output", outputs)
        return _outputs(json.loads(outputs[1] or "{}"), inputs)

    def _drift_sync(
        self, inputs: InfrastructureInputs, variables: dict[str, Any], guard: ProcessGuard
    ) -> DriftReport:
        # A normal plan, not -refresh-only: a refresh-only plan reports every
        # selector the operator switched (ignore_changes applies to planning
        # only), while a normal plan reports exactly what an apply would undo.
        # No lock: it writes nothing, and must not queue behind or strand one.
        with self._session(inputs.state_key(), variables, guard) as tf:
            plan = tf.run(
                "plan",
                detailed_exitcode=IsFlagged,
                var_file=VAR_FILE,
                lock=False,
                input=False,
            )
            if plan[0] not in (0, 2):
                raise _CommandFailedError("plan", plan)
        if plan[0] == 0:
            return DriftReport(drifted=False)
        changes = plan_changes(plan[1])
        return DriftReport(drifted=True, summary="; ".join(changes) or "plan has changes")

    def _destroy_sync(
        self, inputs: InfrastructureInputs, variables: dict[str, Any], guard: ProcessGuard
    ) -> None:
        key = inputs.state_key()
        with self._session(key, variables, guard) as tf:

            def destroy() -> None:
                result = tf.run(
                    "destroy",
                    force=IsNotFlagged,
                    auto_approve=True,
                    var_file=VAR_FILE,
                    lock_timeout=self._lock_timeout,
                    input=False,
                )
                if result[0] != 0:
                    raise _CommandFailedError("destroy", result)

            self._with_lock_recovery(key, tf, variables, destroy)
        # The state Secret stays (empty): Terraform cannot delete the default
        # workspace. The working directory holds nothing worth keeping.
        ReleaseDir(self._work_root / key).remove()
        log.info("terraform destroy for %s: done", key)

    # -- helpers ------------------------------------------------------------

    @contextlib.contextmanager
    def _session(
        self, key: str, variables: Mapping[str, Any], guard: ProcessGuard
    ) -> Iterator[_Terraform]:
        """An initialized working directory with the var file in place; cleaned after."""
        workdir = ReleaseDir.prepare(self._work_root, key, self._module_dir, self.module_checksum)
        tf = _Terraform(workdir.path, self._terraform_bin, self._env, guard)
        try:
            workdir.write_inputs(variables)
            self._init(key, workdir, tf)
            yield tf
        except _CommandFailedError as failed:
            # Whatever went wrong, the next run starts with a fresh init.
            workdir.forget_init()
            raise self._error(failed, variables) from None
        finally:
            workdir.clean_inputs()

    def _backend_config(self, key: str) -> dict[str, str]:
        config = {"secret_suffix": key, "namespace": self._state_namespace}
        if self._kubeconfig is None:
            config["in_cluster_config"] = "true"
        else:
            config["config_path"] = str(self._kubeconfig)
        return config

    def _init(self, key: str, workdir: ReleaseDir, tf: _Terraform) -> None:
        """``terraform init``, skipped when this directory was already set up the same way.

        Init re-reads the provider mirror and lists the backend's workspaces
        every time; a no-change reconcile does not need either.
        """
        backend = self._backend_config(key)
        fingerprint = hashlib.sha256(
            # The CLI config names the provider mirror that .terraform/ links to.
            json.dumps(
                [
                    self.module_checksum,
                    backend,
                    self._terraform_bin,
                    self._env.get("TF_CLI_CONFIG_FILE", ""),
                ]
            ).encode()
        ).hexdigest()
        if workdir.initialized_as(fingerprint):
            return
        result = tf.run("init", backend_config=backend, reconfigure=IsFlagged, input=False)
        if result[0] != 0:
            raise _CommandFailedError("init", result)
        workdir.mark_initialized(fingerprint)

    def _with_lock_recovery(
        self, key: str, tf: _Terraform, variables: Mapping[str, Any], step: Callable[[], None]
    ) -> None:
        """Run ``step``; on a stale state lock, force-unlock it and run ``step`` once more."""
        try:
            step()
            return
        except _CommandFailedError as failed:
            if not is_lock_error(failed.stderr) or not self._may_unlock(key, failed.stderr):
                raise
            stale_id = lock_id(failed.stderr)
            assert stale_id is not None  # checked by _may_unlock
        unlock = tf.run("cmd", "force-unlock", stale_id, force=IsFlagged, no_color=IsFlagged)
        if unlock[0] != 0:
            raise _CommandFailedError("force-unlock", unlock)
        log.warning("terraform state of %s: stale lock %s force-unlocked; retrying", key, stale_id)
        step()

    def _may_unlock(self, key: str, stderr: str) -> bool:
        """A lock is ours to break only when no live run can hold it."""
        stale_id, created = lock_id(stderr), lock_created(stderr)
        if stale_id is None or created is None:
            log.warning("terraform state of %s is locked; lock info unreadable, not unlocking", key)
            return False
        age = (datetime.now(UTC) - created).total_seconds()
        with self._busy_lock:
            others = self._busy.get(key, 0) - 1  # minus this run
        if age <= self._stale_after or others > 0:
            log.warning(
                "terraform state of %s is locked by %s (%.0fs old, stale after %.0fs); waiting",
                key,
                stale_id,
                age,
                self._stale_after,
            )
            return False
        log.warning(
            "terraform state of %s: lock %s is %.0fs old (stale after %.0fs), force-unlocking",
            key,
            stale_id,
            age,
            self._stale_after,
        )
        return True

    def _variables(self, inputs: InfrastructureInputs) -> dict[str, Any]:
        reserved = sorted(_RESERVED_VARIABLES & set(inputs.extra_variables))
        if reserved:
            raise InfrastructureError(f"variables set by the operator only: {', '.join(reserved)}")
        variables = inputs.terraform_variables()
        # Terraform only warns about undeclared variables in a var file, so a
        # typo in a release's spec would silently do nothing.
        unknown = sorted(set(variables) - self._declared)
        if unknown:
            raise InfrastructureError(
                f"unknown Terraform variables: {', '.join(unknown)}; "
                f"the module declares: {', '.join(sorted(self._declared))}"
            )
        return variables

    def _error(
        self, failed: _CommandFailedError, variables: Mapping[str, Any]
    ) -> InfrastructureError:
        if is_lock_error(failed.stderr):
            # The raw diagnostic is long and says nothing about what happens next.
            created = lock_created(failed.stderr)
            since = created.isoformat(timespec="seconds") if created else "an unknown time"
            return InfrastructureError(
                f"terraform {failed.command} failed: the release's state is locked "
                f"(lock {lock_id(failed.stderr)}, taken {since}); a lock older than "
                f"{self._stale_after:.0f}s is force-unlocked by the next run"
            )
        secrets = sensitive_values(variables, self._sensitive)
        summary = summarize_error(failed.stderr or failed.stdout, secrets)
        return InfrastructureError(f"terraform {failed.command} failed: {summary}")

    def _environment(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _DROPPED_ENV and not k.startswith(_DROPPED_ENV_PREFIXES)
        }
        env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
        if self._kubeconfig is not None:
            # Read by the provider itself (the module leaves config_path null).
            env["KUBE_CONFIG_PATH"] = str(self._kubeconfig)
        return env


def _outputs(raw: Mapping[str, Any], inputs: InfrastructureInputs) -> InfrastructureOutputs:
    def value(name: str) -> str | None:
        entry = raw.get(name)
        found = entry.get("value") if isinstance(entry, Mapping) else None
        return str(found) if found not in (None, "") else None

    return InfrastructureOutputs(
        stable_service=value("stable_service_name") or inputs.service_name,
        preview_service=value("preview_service_name") or inputs.preview_service_name,
        stable_cluster_ip=value("stable_cluster_ip"),
        preview_cluster_ip=value("preview_cluster_ip"),
    )


if TYPE_CHECKING:

    def _implements_the_port(infra: TerraformInfrastructure) -> Infrastructure:
        return infra  # mypy checks the structural match with the Protocol
