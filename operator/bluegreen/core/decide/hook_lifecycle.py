"""When migration hooks start, and what their results mean for the release.

``hooks`` runs the hooks of one point; this module decides the rest: a new
attempt at a revision, the contract hooks' start at the end of a forward hold
and their wait for the previous revision to be gone, the Degraded condition,
and the results of hook Jobs of revisions no longer followed, which must be
recorded before their Jobs may go.
"""

from __future__ import annotations

from dataclasses import replace

from bluegreen.api.conditions import Reason
from bluegreen.api.enums import HookPoint
from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.decide import record
from bluegreen.core.decide.hooks import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    failure,
    last_job,
    latest,
    put,
    run_hooks,
)
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.status import HookStatus


def fresh_attempt(draft: Draft, revision: str) -> None:
    """A new attempt at ``revision``: its failed hooks may run again, as new Jobs.

    Succeeded hooks stay succeeded: a hook runs once per revision.
    """
    draft.set(
        hooks=tuple(
            replace(h, phase=PENDING, attempt=h.attempt + 1, job="", message="new attempt")
            if h.revision == revision and h.phase == FAILED
            else h
            for h in draft.status.hooks
        )
    )


def begin_contract(view: ReleaseView, draft: Draft, revision: str, previous: str) -> None:
    """The hold of ``revision`` ended and ``previous`` is being deleted: its contract
    hooks are due, each to start once the previous revision's Deployment is gone."""
    for hook in view.spec.hooks.post_cleanup:
        if latest(draft.status.hooks, HookPoint.POST_CLEANUP, hook.name, revision) is None:
            put(
                draft,
                HookStatus(
                    name=hook.name,
                    point=HookPoint.POST_CLEANUP,
                    revision=revision,
                    phase=PENDING,
                    previous_revision=previous,
                    message=f"waiting for {previous} to be deleted",
                ),
            )


def continue_contract(view: ReleaseView, draft: Draft, revision: str) -> None:
    """Contract hooks of the serving revision, begun when its hold ended."""
    lines = [
        h
        for h in draft.status.hooks
        if h.point == HookPoint.POST_CLEANUP and h.revision == revision
    ]
    if not lines or all(h.phase in (SUCCEEDED, FAILED) for h in lines):
        return
    previous = lines[0].previous_revision
    gone = previous not in view.observed.deployments
    verdict = run_hooks(view, draft, HookPoint.POST_CLEANUP, revision, previous, may_start=gone)
    if verdict == RUNNING:
        waiting = "contract hooks running" if gone else f"waiting for {previous} to be deleted"
        draft.set(message=f"revision {revision} serves; {waiting}")


def read_unfollowed(view: ReleaseView, draft: Draft, followed: set[str]) -> set[str]:
    """Hook Jobs of revisions no longer followed (superseded while a hook ran, or whose
    record a crash lost): finished ones are recorded, so the revision, if asked for
    again, knows. Returns the revisions whose Jobs must stay: a hook Job still running,
    or one recorded by this very decision (its record is not written yet, and a crash
    now must not lose both the record and the Job)."""
    running: set[str] = set()
    revisions = {job.revision for job in view.observed.jobs.values()} - followed - {""}
    for revision in sorted(revisions):
        for point in HookPoint:
            for hook in view.spec.hooks.at(point):
                attempt, job = last_job(view, hook, point, revision)
                if job is None:
                    continue
                line = latest(draft.status.hooks, point, hook.name, revision)
                if line is not None and line.attempt > attempt:
                    continue
                if line is not None and line.phase in DONE:
                    if line.finished_at == view.stamp:
                        # Recorded by this decision, not written yet: the Job goes next time.
                        running.add(revision)
                        draft.wake_in(1.0)
                    continue
                running.add(revision)
                if not job.succeeded and not job.failed:
                    continue
                draft.wake_in(1.0)
                put(
                    draft,
                    HookStatus(
                        name=hook.name,
                        point=point,
                        revision=revision,
                        phase=SUCCEEDED if job.succeeded else FAILED,
                        previous_revision=line.previous_revision if line else "",
                        job=job.name,
                        attempt=attempt,
                        message="job succeeded" if job.succeeded else f"job failed: {job.message}",
                        started_at=line.started_at if line else "",
                        finished_at=view.stamp,
                    ),
                )
    return running


def record_degraded(view: ReleaseView, draft: Draft, revision: str) -> None:
    """Degraded while a hook after the switch of the serving revision has failed."""
    failed = failure(draft, (HookPoint.POST_SWITCH, HookPoint.POST_CLEANUP), revision)
    if failed:
        record.condition(view, draft, ConditionType.DEGRADED, TRUE, Reason.HOOK_FAILED, failed)
    elif draft.status.condition(ConditionType.DEGRADED) is not None or _has_hooks(view):
        record.condition(view, draft, ConditionType.DEGRADED, FALSE, Reason.HOOKS_SUCCEEDED, "")


def _has_hooks(view: ReleaseView) -> bool:
    hooks = view.spec.hooks
    return bool(hooks.pre_switch or hooks.post_switch or hooks.post_cleanup)
