"""The finalizer's work: carry out core's teardown, and always let the release go.

Deleting a release must finish whatever state it is in: a spec that no longer
parses, infrastructure that failed, Terraform state deleted by hand, a
namespace being deleted (where creating Events or leases is forbidden).
``core/teardown.py`` decides what goes, as actions; this module reads what
exists, runs them through the ``Executor`` in order, and owns the retry policy:
failing steps are retried a bounded number of times; after that the finalizer
deletes the release's own Services directly, reports what it could not do in a
Warning Event, and returns so the release can go. Deployments and Jobs carry a
controller ownerReference, so the garbage collector removes any it missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.core import actions as act
from bluegreen.core import teardown
from bluegreen.core.context import ReleaseContext
from bluegreen.core.status import ReleaseStatus
from bluegreen.reconciler.execute import Executor

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
    executor: Executor
    now: datetime

    async def run(
        self, ctx: ReleaseContext, body: Mapping[str, Any], budget: CleanupBudget
    ) -> None:
        """Remove the release's workloads and infrastructure; raise to be retried."""
        kube = self.executor.kube
        status = ReleaseStatus.from_dict(body.get("status"))
        problems: list[str] = []
        try:
            jobs, deployments = await asyncio.gather(
                kube.jobs.list_for_release(ctx.namespace, ctx.name),
                kube.deployments.list_for_release(ctx.namespace, ctx.name),
            )
            await self._carry_out(teardown.workload_removals(jobs, deployments, ctx.uid), body)
        except KubeError as err:
            self._retry_or_note(budget, f"deleting Deployments and Jobs failed: {err}", problems)
        removal = teardown.infrastructure_removal(ctx, body.get("spec") or {}, status)
        destroy_failed = bool(removal.problem)
        if removal.problem:
            problems.append(removal.problem)
        if removal.destroy is not None:
            try:
                await self._carry_out([removal.destroy], body)
            except (InfrastructureError, KubeError) as err:
                kind = self.executor.infrastructure_kind
                self._retry_or_note(budget, f"{kind} destroy failed: {err}", problems)
                destroy_failed = True
        if removal.sweep_services:
            deleted = await self._sweep_services(ctx, body, budget, problems)
            if destroy_failed:
                problems.append(
                    "deleted the release's own Services directly: "
                    + (", ".join(deleted) if deleted else "none left")
                )
        report = teardown.cleanup_report(problems)
        if report is not None:
            # Posting is best effort (refused in a terminating namespace, say).
            await self._carry_out([report], body)

    async def _sweep_services(
        self,
        ctx: ReleaseContext,
        body: Mapping[str, Any],
        budget: CleanupBudget,
        problems: list[str],
    ) -> list[str]:
        """Services labelled as this release's, also after a successful destroy."""
        try:
            services = await self.executor.kube.services.list(ctx.namespace)
            removals = teardown.service_removals(services, ctx.name)
            await self._carry_out(removals, body)
        except KubeError as err:
            self._retry_or_note(budget, f"deleting Services failed: {err}", problems)
            return []
        return [removal.name for removal in removals]

    async def _carry_out(self, actions: Sequence[act.Action], body: Mapping[str, Any]) -> None:
        status = ReleaseStatus()  # deletion records nothing in status: the object goes
        for action in actions:
            await self.executor.run(action, body, status, self.now, time.monotonic())

    @staticmethod
    def _retry_or_note(budget: CleanupBudget, message: str, problems: list[str]) -> None:
        if not budget.last_chance:
            raise CleanupRetryError(message)
        log.warning("cleanup: %s; giving up on it", message)
        problems.append(message)
