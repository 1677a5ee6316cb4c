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
  stale;
- before Terraform runs, state kept under the legacy key is moved to the
  release's own key, and an existing Service missing from the state is
  imported only when it is this release's (or adoption-annotated for it),
  never when it is someone else's (``core.service_claim``).
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
from collections.abc import Callable, Coroutine, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from bluegreen.adapters.infrastructure import Infrastructure, InfrastructureError
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.adapters.terraform_cluster import (
    TerraformCluster,
    migrate_legacy_state,
    remove_empty_state,
)
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
from bluegreen.core import service_claim, tfstate
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
# The state key becomes a directory name, part of a Secret name and a label value
# (``core.names.state_key`` guarantees this shape; checked again before any path).
_STATE_KEY = re.compile(r"^(?!.*\.\.)[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
_SERVICES = (("stable", "service_name"), ("preview", "preview_service_name"))
"""The module's Service resources and the input naming each one."""
BRIDGE_TIMEOUT_SECONDS = 60.0
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


class _Bridge:
    """Lets the worker thread make the event loop's Kubernetes calls and wait for them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def __call__(self, call: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            return future.result(timeout=BRIDGE_TIMEOUT_SECONDS)
        except KubeError as err:
            raise InfrastructureError(f"Kubernetes API: {err}") from None


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
        cluster: TerraformCluster,
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
        self._cluster = cluster
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
            inputs, lambda guard, bridge: self._apply_sync(inputs, variables, guard, bridge)
        )

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        variables = self._variables(inputs)
        return await self._run(inputs, lambda guard, _: self._drift_sync(inputs, variables, guard))

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        variables = self._variables(inputs)
        await self._run(
            inputs, lambda guard, bridge: self._destroy_sync(inputs, variables, guard, bridge)
        )

    # -- scheduling ---------------------------------------------------------

    async def _run(
        self,
        inputs: InfrastructureInputs,
        operation: Callable[[ProcessGuard, _Bridge], T],
    ) -> T:
        key = inputs.state_key()
        if not _STATE_KEY.match(key):
            raise InfrastructureError(f"invalid state key {key!r}")
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        # Per-release lock first: a queued run for one release must not hold
        # one of the global slots while it waits.
        async with lock, self._semaphore:
            # Before init, which would create an empty state under the new key and
            # so hide the legacy one for good.
            await self._cluster_call(migrate_legacy_state(self._cluster, inputs))
            guard = ProcessGuard(self._timeout, KILL_GRACE_SECONDS)
            bridge = _Bridge(asyncio.get_running_loop())
            task = asyncio.ensure_future(
                asyncio.to_thread(self._tracked, key, lambda g: operation(g, bridge), guard)
            )
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
                if not task.cancelled():
                    # Its outcome ("terraform cancelled") is moot for a cancelled
                    # caller; retrieving it keeps asyncio from logging it as an error.
                    task.exception()
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

    @staticmethod
    async def _cluster_call(call: Coroutine[Any, Any, T]) -> T:
        try:
            return await call
        except KubeError as err:
            raise InfrastructureError(f"Kubernetes API: {err}") from None

    # -- operations (worker thread) -----------------------------------------

    def _apply_sync(
        self,
        inputs: InfrastructureInputs,
        variables: dict[str, Any],
        guard: ProcessGuard,
        bridge: _Bridge,
    ) -> InfrastructureOutputs:
        key = inputs.state_key()
        with self._session(key, variables, guard) as tf:
            judged: dict[str, str] = {}
            self._with_lock_recovery(
                key,
                tf,
                variables,
                lambda: judged.update(self._claim_services(inputs, tf, bridge)),
            )

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
                self._check_plan_targets(inputs, tf, judged)
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
        self,
        inputs: InfrastructureInputs,
        variables: dict[str, Any],
        guard: ProcessGuard,
        bridge: _Bridge,
    ) -> None:
        """Destroy what the state holds and every untracked Service of ours; then the
        (empty) state itself and the working directory."""
        key = inputs.state_key()
        if bridge(self._cluster.state_secret(key)) is None and not any(
            self._judge(inputs, bridge, name, None)[0] is service_claim.Claim.OURS
            for _, name in self._service_names(inputs)
        ):
            # No state and no Service of ours: nothing to destroy, and running
            # init would only create an empty state to delete again.
            log.info("terraform destroy for %s: no state and no Services; nothing to do", key)
            ReleaseDir(self._work_root / key).remove()
            return
        with self._session(key, variables, guard) as tf:
            self._with_lock_recovery(
                key,
                tf,
                variables,
                lambda: self._claim_services(inputs, tf, bridge, destroying=True),
            )

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
        # Terraform cannot delete the default workspace: without this every
        # deleted release would leave its state Secret and Lease behind.
        bridge(remove_empty_state(self._cluster, key))
        ReleaseDir(self._work_root / key).remove()
        log.info("terraform destroy for %s: done", key)

    # -- Services that exist before Terraform knows them ---------------------

    @staticmethod
    def _service_names(inputs: InfrastructureInputs) -> list[tuple[str, str]]:
        """(Terraform address, Service name) of the module's two Services."""
        return [
            (f"{tfstate.SERVICE_TYPE}.{resource}", str(getattr(inputs, field)))
            for resource, field in _SERVICES
        ]

    def _judge(
        self,
        inputs: InfrastructureInputs,
        bridge: _Bridge,
        name: str,
        tracked_uid: str | None,
    ) -> tuple[service_claim.Claim, str]:
        """The verdict on the live Service ``name`` and that object's uid ("" if none)."""
        live = bridge(self._cluster.service(inputs.namespace, name))
        uid = str(((live or {}).get("metadata") or {}).get("uid") or "")
        return service_claim.claim(live, tracked_uid, inputs.release), uid

    def _claim_services(
        self,
        inputs: InfrastructureInputs,
        tf: _Terraform,
        bridge: _Bridge,
        *,
        destroying: bool = False,
    ) -> dict[str, str]:
        """Reconcile the state with the live Services before plan, apply or destroy.

        A Service of ours that the state lacks (an apply killed before it saved
        state, a lost state) is imported, so Terraform updates it instead of
        failing on "already exists", and a destroy removes it. A foreign one
        stops an apply with ``ServiceNotOwned``; a destroy leaves it alone and,
        if the state points at its name, forgets that entry so Terraform, which
        finds objects by name, cannot delete it.

        Returns the uid of each Service found writable ("" when absent), which
        the saved plan is checked against.
        """
        tracked = tfstate.service_uids(self._pull_state(tf))
        judged: dict[str, str] = {}
        for address, name in self._service_names(inputs):
            verdict, uid = self._judge(inputs, bridge, name, tracked.get(address))
            judged[address] = uid
            if verdict in (service_claim.Claim.ABSENT, service_claim.Claim.TRACKED):
                continue
            if destroying and verdict is not service_claim.Claim.OURS:
                # Not ours yet (foreign, or adoptable but never adopted).
                if address in tracked:
                    self._forget(tf, address)
                continue
            if verdict is service_claim.Claim.FOREIGN:
                raise InfrastructureError(
                    service_claim.refusal(inputs.namespace, name, inputs.release)
                )
            if address in tracked:
                # Tracked under this name, but a newer object of ours (or one
                # handed over): Terraform reads it by name and takes it from here.
                continue
            self._import(inputs, tf, address, name, uid)
        return judged

    def _import(
        self, inputs: InfrastructureInputs, tf: _Terraform, address: str, name: str, uid: str
    ) -> None:
        """Import the Service ``name``, which must still be the object ``uid`` judged."""
        result = tf.run(
            "cmd",
            "import",
            address,
            f"{inputs.namespace}/{name}",
            var_file=VAR_FILE,
            lock_timeout=self._lock_timeout,
            input=False,
            no_color=IsFlagged,
        )
        if result[0] != 0:
            raise _CommandFailedError("import", result)
        # Terraform imports whatever holds the name at that instant: if the object
        # was replaced since it was judged, undo the import and refuse.
        imported = tfstate.service_uids(self._pull_state(tf)).get(address)
        if imported != uid:
            self._forget(tf, address)
            raise InfrastructureError(service_claim.refusal(inputs.namespace, name, inputs.release))
        log.info(
            "terraform state of %s: imported existing Service %s/%s (%s)",
            inputs.state_key(),
            inputs.namespace,
            name,
            address,
        )

    def _check_plan_targets(
        self, inputs: InfrastructureInputs, tf: _Terraform, judged: Mapping[str, str]
    ) -> None:
        """Refuse a saved plan that would write a Service other than the one judged ours."""
        shown = tf.run("cmd", "show", PLAN_FILE, json=IsFlagged, no_color=IsFlagged)
        if shown[0] != 0:
            raise _CommandFailedError("show", shown)
        unexpected = tfstate.unexpected_targets(json.loads(shown[1] or "{}"), judged)
        if unexpected:
            by_address = dict(self._service_names(inputs))
            name = by_address.get(unexpected[0], unexpected[0])
            raise InfrastructureError(service_claim.refusal(inputs.namespace, name, inputs.release))

    def _pull_state(self, tf: _Terraform) -> dict[str, Any]:
        result = tf.run("cmd", "state pull")
        if result[0] != 0:
            raise _CommandFailedError("state pull", result)
        document = json.loads(result[1] or "{}")
        return document if isinstance(document, dict) else {}

    def _forget(self, tf: _Terraform, address: str) -> None:
        result = tf.run(
            "cmd", "state rm", address, lock_timeout=self._lock_timeout, no_color=IsFlagged
        )
        if result[0] != 0:
            raise _CommandFailedError("state rm", result)
        log.warning("terraform state: %s forgotten, the live object is not ours", address)

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
        self, key: str, tf: _Terraform, variables: Mapping[str, Any], step: Callable[[], object]
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
