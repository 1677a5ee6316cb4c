"""Terraform implementation of the infrastructure port: the sequence of commands.

- one working directory per release, one run per release at a time, at most
  ``max_concurrency`` runs overall, each an asyncio subprocess under one
  deadline for the whole operation (``process``);
- variables only through a ``0600`` var file in the release's directory,
  deleted when the run ends (``workdir``);
- what Terraform will do and did is read from its JSON (``json_documents``,
  ``diagnostics``), never from its human output where JSON exists;
- a lock left behind by a killed run is force-unlocked once provably stale
  (``locks``);
- before Terraform runs, state kept under the legacy key is moved to the
  release's own key (``cluster``), and Services Terraform does not know yet are
  imported only when they are this release's (``services``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bluegreen.adapters.infrastructure import Infrastructure, InfrastructureError
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.adapters.terraform import json_documents, services
from bluegreen.adapters.terraform.cluster import (
    TerraformCluster,
    migrate_legacy_state,
    remove_empty_state,
)
from bluegreen.adapters.terraform.commands import TerraformCommands
from bluegreen.adapters.terraform.environment import terraform_environment
from bluegreen.adapters.terraform.locks import StaleLockRecovery
from bluegreen.adapters.terraform.module import module_checksum, module_variables
from bluegreen.adapters.terraform.process import ProcessRunner
from bluegreen.adapters.terraform.redaction import sensitive_values
from bluegreen.adapters.terraform.session import InitSettings, Session, open_session
from bluegreen.adapters.terraform.workdir import ReleaseDir
from bluegreen.core.infrastructure import DriftReport, InfrastructureInputs, InfrastructureOutputs

log = logging.getLogger(__name__)

T = TypeVar("T")

KILL_GRACE_SECONDS = 20.0
"""After SIGINT, how long Terraform gets to save state and unlock before SIGKILL."""

# Set by the operator only; a release's spec must not point the provider at
# another kubeconfig on the operator's disk.
_RESERVED_VARIABLES = frozenset({"kubeconfig_path"})
# The state key becomes a directory name, part of a Secret name and a label value
# (``core.names.state_key`` guarantees this shape; checked again before any path).
_STATE_KEY = re.compile(r"^(?!.*\.\.)[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")


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
        self._terraform_bin = binary
        self._commands = TerraformCommands(binary, lock_timeout)
        self._locks = StaleLockRecovery(
            cluster,
            stale_lock_seconds
            if stale_lock_seconds is not None
            else timeout_seconds + KILL_GRACE_SECONDS,
        )
        self.module_checksum = module_checksum(self._module_dir)
        declared = module_variables(self._module_dir)
        self._declared = frozenset(declared)
        self._sensitive = frozenset(name for name, secret in declared.items() if secret)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._key_locks: dict[str, asyncio.Lock] = {}
        self.env = terraform_environment(os.environ, self._kubeconfig)

    # -- the port -----------------------------------------------------------

    async def apply(self, inputs: InfrastructureInputs) -> InfrastructureOutputs:
        variables = self.variables(inputs)
        return await self._exclusive(inputs, lambda runner: self._apply(inputs, variables, runner))

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        variables = self.variables(inputs)
        return await self._exclusive(inputs, lambda runner: self._drift(inputs, variables, runner))

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        variables = self.variables(inputs)
        await self._exclusive(inputs, lambda runner: self._destroy(inputs, variables, runner))

    # -- operations -----------------------------------------------------------

    async def _apply(
        self, inputs: InfrastructureInputs, variables: dict[str, Any], runner: ProcessRunner
    ) -> InfrastructureOutputs:
        key = inputs.state_key()
        async with self._session(key, variables, runner) as session:
            judged = await self._locks.run(
                key, session, lambda: services.claim_services(session, self._cluster, inputs)
            )
            await self._locks.run(
                key, session, lambda: self._plan_and_apply(session, inputs, judged)
            )
            raw = await session.json(self._commands.outputs())
        return json_documents.outputs(raw, inputs)

    async def _plan_and_apply(
        self, session: Session, inputs: InfrastructureInputs, judged: Mapping[str, str]
    ) -> None:
        key = inputs.state_key()
        plan = await session.run(self._commands.plan(lock=True), ok=(0, 2))
        if plan.returncode == 0:
            log.info("terraform plan for %s: no changes, nothing to apply", key)
            return
        shown = await session.json(self._commands.show_plan())
        services.check_plan_targets(inputs, shown, judged)
        changes = json_documents.describe_changes(shown)
        log.info("terraform apply for %s: %s", key, changes or "changes")
        await session.run(self._commands.apply_plan())

    async def _drift(
        self, inputs: InfrastructureInputs, variables: dict[str, Any], runner: ProcessRunner
    ) -> DriftReport:
        # A normal plan, not -refresh-only: a refresh-only plan reports every
        # selector the operator switched (ignore_changes applies to planning
        # only), while a normal plan reports exactly what an apply would undo.
        async with self._session(inputs.state_key(), variables, runner) as session:
            plan = await session.run(self._commands.plan(lock=False), ok=(0, 2))
            if plan.returncode == 0:
                return DriftReport(drifted=False)
            shown = await session.json(self._commands.show_plan())
        changes = json_documents.describe_changes(shown)
        return DriftReport(drifted=True, summary=changes or "plan has changes")

    async def _destroy(
        self, inputs: InfrastructureInputs, variables: dict[str, Any], runner: ProcessRunner
    ) -> None:
        """Destroy what the state holds and every untracked Service of ours; then the
        (empty) state itself and the working directory."""
        key = inputs.state_key()
        if await self._cluster.state_secret(key) is None and not await services.any_of_ours(
            self._cluster, inputs
        ):
            # No state and no Service of ours: nothing to destroy, and running
            # init would only create an empty state to delete again.
            log.info("terraform destroy for %s: no state and no Services; nothing to do", key)
            ReleaseDir(self._work_root / key).remove()
            return
        async with self._session(key, variables, runner) as session:
            await self._locks.run(
                key,
                session,
                lambda: services.claim_services(session, self._cluster, inputs, destroying=True),
            )
            await self._locks.run(key, session, lambda: session.run(self._commands.destroy()))
        # Terraform cannot delete the default workspace: without this every
        # deleted release would leave its state Secret and Lease behind.
        await remove_empty_state(self._cluster, key)
        ReleaseDir(self._work_root / key).remove()
        log.info("terraform destroy for %s: done", key)

    # -- scheduling -----------------------------------------------------------

    async def _exclusive(
        self, inputs: InfrastructureInputs, operation: Callable[[ProcessRunner], Awaitable[T]]
    ) -> T:
        key = inputs.state_key()
        if not _STATE_KEY.match(key):
            raise InfrastructureError(f"invalid state key {key!r}")
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        # Per-release lock first: a queued run for one release must not hold
        # one of the global slots while it waits.
        async with lock, self._semaphore:
            try:
                # Before init, which would create an empty state under the new key
                # and so hide the legacy one for good.
                await migrate_legacy_state(self._cluster, inputs)
                # The deadline starts now, not while the run was queued.
                runner = ProcessRunner(self._timeout, KILL_GRACE_SECONDS, self.env)
                return await operation(runner)
            except KubeError as err:
                raise InfrastructureError(f"Kubernetes API: {err}") from None

    @asynccontextmanager
    async def _session(
        self, key: str, variables: Mapping[str, Any], runner: ProcessRunner
    ) -> AsyncIterator[Session]:
        workdir = ReleaseDir.prepare(self._work_root, key, self._module_dir, self.module_checksum)
        async with open_session(
            workdir,
            self._commands,
            runner,
            variables=variables,
            init=self.init_settings(key),
            secrets=sensitive_values(variables, self._sensitive),
            guard_init=lambda init: self._locks.run_init(key, init),
        ) as session:
            yield session

    # -- configuration --------------------------------------------------------

    def backend_config(self, key: str) -> dict[str, str]:
        config = {"secret_suffix": key, "namespace": self._state_namespace}
        if self._kubeconfig is None:
            config["in_cluster_config"] = "true"
        else:
            config["config_path"] = str(self._kubeconfig)
        return config

    def init_settings(self, key: str) -> InitSettings:
        backend = self.backend_config(key)
        # The CLI config names the provider mirror that .terraform/ links to.
        fingerprint = [
            self.module_checksum,
            backend,
            self._terraform_bin,
            self.env.get("TF_CLI_CONFIG_FILE", ""),
        ]
        digest = hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()
        return InitSettings(backend, digest)

    def variables(self, inputs: InfrastructureInputs) -> dict[str, Any]:
        """The module's variables for ``inputs``; refused before anything runs if the
        spec sets a variable the module lacks or only the operator may set."""
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


if TYPE_CHECKING:

    def _implements_the_port(infra: TerraformInfrastructure) -> Infrastructure:
        return infra  # mypy checks the structural match with the Protocol
