"""The finalizer's work: remove what a release created, and always let it go.

Deleting a release must finish whatever state it is in: a spec that no longer
parses, infrastructure that failed, Terraform state deleted by hand, a
namespace being deleted (where creating Events or leases is forbidden).
Failing steps are retried a bounded number of times; after that the finalizer
deletes the release's own Services directly, reports what it could not do in a
Warning Event, and returns so the release can go. Deployments and Jobs carry a
controller ownerReference, so the garbage collector removes any it missed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.api.conditions import Reason
from bluegreen.api.enums import EventType
from bluegreen.core import teardown
from bluegreen.core.context import ReleaseContext
from bluegreen.core.status import ReleaseStatus
from bluegreen.reconciler.ports import InfrastructurePort, KubePort

log = logging.getLogger(__name__)
CLEANUP_ATTEMPTS = 3
"""Tries of a failing step (destroy, API calls) before falling back and letting go."""
CLEANUP_BUDGET_SECONDS = 300.0
"""Wall time since the first try after which the next try is the last one."""
RETRY_DELAY_SECONDS = 10.0


@dataclass(frozen=True)
class CleanupBudget:
    """How far the finalizer has come, as kopf counts it (kept across restarts)."""

    attempt: int = 0
    """0 on the first try (kopf's ``retry``)."""
    elapsed_seconds: float = 0.0
    """Since the first try (kopf's ``runtime``)."""

    @property
    def last_chance(self) -> bool:
        return (
            self.attempt + 1 >= CLEANUP_ATTEMPTS or self.elapsed_seconds >= CLEANUP_BUDGET_SECONDS
        )


class CleanupRetryError(Exception):
    """A step failed and may succeed later; the caller schedules another try."""

    def __init__(self, message: str, delay: float = RETRY_DELAY_SECONDS) -> None:
        super().__init__(message)
        self.delay = delay


@dataclass
class Cleanup:
    kube: KubePort
    infrastructure: InfrastructurePort
    infrastructure_kind: str = "Terraform"

    async def run(
        self, ctx: ReleaseContext, body: Mapping[str, Any], budget: CleanupBudget
    ) -> None:
        """Remove the release's workloads and infrastructure; raise to be retried."""
        problems: list[str] = []
        try:
            await self._delete_workloads(ctx)
        except KubeError as err:
            self._retry_or_note(budget, f"deleting Deployments and Jobs failed: {err}", problems)
        spec = body.get("spec") or {}
        if teardown.retains_infrastructure(spec):
            await self._report(body, problems)
            return
        status = ReleaseStatus.from_dict(body.get("status"))
        destroy_failed = await self._destroy(ctx, spec, status, budget, problems)
        try:
            deleted = await self._delete_own_services(ctx)
        except KubeError as err:
            self._retry_or_note(budget, f"deleting Services failed: {err}", problems)
            deleted = []
        if destroy_failed:
            problems.append(
                "deleted the release's own Services directly: "
                + (", ".join(deleted) if deleted else "none left")
            )
        await self._report(body, problems)

    async def _delete_workloads(self, ctx: ReleaseContext) -> None:
        """Jobs first (they target the Deployments' pods), then Deployments: ours only."""
        jobs = await self.kube.jobs.list_for_release(ctx.namespace, ctx.name)
        for job in teardown.own_workloads(jobs, ctx.uid):
            await self.kube.jobs.delete(ctx.namespace, job)
        deployments = await self.kube.deployments.list_for_release(ctx.namespace, ctx.name)
        for deployment in teardown.own_workloads(deployments, ctx.uid):
            await self.kube.deployments.delete(ctx.namespace, deployment)

    async def _destroy(
        self,
        ctx: ReleaseContext,
        spec: Mapping[str, Any],
        status: ReleaseStatus,
        budget: CleanupBudget,
        problems: list[str],
    ) -> bool:
        """Destroy through the infrastructure port; True when it failed for good."""
        if not teardown.infrastructure_was_attempted(status):
            return False
        inputs = teardown.destroy_inputs(ctx, spec, status)
        if inputs is None:
            problems.append("no infrastructure inputs in the spec or status to destroy with")
            return True
        try:
            await self.infrastructure.destroy(inputs)
        except (InfrastructureError, KubeError) as err:
            self._retry_or_note(
                budget, f"{self.infrastructure_kind} destroy failed: {err}", problems
            )
            return True
        return False

    async def _delete_own_services(self, ctx: ReleaseContext) -> list[str]:
        """Services labelled as this release's: what a destroy missed or could not reach.

        Also after a successful destroy: with its state deleted by hand,
        Terraform knows of nothing to destroy while the Services still stand.
        """
        services = await self.kube.services.list(ctx.namespace)
        deleted = []
        for name in teardown.own_services(services, ctx.name):
            if await self.kube.services.delete(ctx.namespace, name):
                deleted.append(name)
        return deleted

    @staticmethod
    def _retry_or_note(budget: CleanupBudget, message: str, problems: list[str]) -> None:
        if not budget.last_chance:
            raise CleanupRetryError(message)
        log.warning("cleanup: %s; giving up on it", message)
        problems.append(message)

    async def _report(self, body: Mapping[str, Any], problems: list[str]) -> None:
        if problems:
            # Posting is best effort (refused in a terminating namespace, say).
            await self.kube.events.post(
                body, EventType.WARNING, Reason.CLEANUP_INCOMPLETE, "; ".join(problems)
            )
