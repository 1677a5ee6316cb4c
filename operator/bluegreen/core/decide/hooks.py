"""Migration hooks: Jobs at named points of a release, once per revision, in order.

A hook's progress lives in ``status.hooks`` (one line per hook, point and
revision) and its Job has a name derived from them (``names.hook_job_name``):
a Job created before a crash lost its status line is found again by name and
followed, never started twice. A failed hook runs again only in a new attempt
at its revision (the spec moved away and back), under a new attempt number.

- preSwitch (expand) gates the switch: a failure fails the candidate, traffic
  stays where it is (``candidate``).
- postSwitch runs during a forward hold; the previous revision is kept until it
  is done (``hold``).
- postCleanup (contract) starts when the hold ends and the previous revision is
  collected, and runs once its Deployment is gone; never after a rollback.
A failed postSwitch or postCleanup hook marks the release Degraded; traffic is
left as it is.
"""

from __future__ import annotations

from datetime import timedelta

from bluegreen.api.conditions import Reason
from bluegreen.api.enums import HookPhase
from bluegreen.core import names
from bluegreen.core.actions import CreateJob
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.manifests import build_hook_job
from bluegreen.core.observed import JobState
from bluegreen.core.spec import Hook
from bluegreen.core.status import HookStatus

PENDING, RUNNING = HookPhase.PENDING, HookPhase.RUNNING
SUCCEEDED, FAILED = HookPhase.SUCCEEDED, HookPhase.FAILED
DONE = (SUCCEEDED, FAILED)
DEADLINE_GRACE_SECONDS = 60
"""Past a hook's own deadline, how long its Job may take to say it failed; after that
the hook fails without it (a Job controller that does not run, a lost Job)."""
MAX_ATTEMPTS = 100
"""Attempts looked for by Job name when a hook's record is missing."""
POLL_SECONDS = 10
"""Safety net while a Job runs; its watch event usually wakes us first."""


def latest(
    lines: tuple[HookStatus, ...], point: str, name: str, revision: str
) -> HookStatus | None:
    found = [h for h in lines if (h.point, h.name, h.revision) == (point, name, revision)]
    return found[-1] if found else None


def run_hooks(
    view: ReleaseView,
    draft: Draft,
    point: str,
    revision: str,
    previous: str,
    may_start: bool = True,
) -> str:
    """Take the hooks of ``point`` one step further for ``revision``; their verdict.

    SUCCEEDED once every hook listed succeeded (at once when none is listed),
    FAILED as soon as one failed, RUNNING otherwise. Hooks run in the order
    listed, one at a time. ``may_start`` False follows Jobs already started but
    starts none (contract hooks wait for the previous revision to be gone).
    """
    for hook in view.spec.hooks.at(point):
        line = latest(draft.status.hooks, point, hook.name, revision)
        if line is not None and line.phase == SUCCEEDED:
            continue
        if line is not None and line.phase == FAILED:
            return FAILED
        line = _advance(view, draft, hook, point, revision, previous, line, may_start)
        if line is None or line.phase in (PENDING, RUNNING):
            draft.wake_in(POLL_SECONDS)
            return RUNNING
        if line.phase == FAILED:
            return FAILED
    return SUCCEEDED


def failure(draft: Draft, points: tuple[str, ...], revision: str) -> str:
    """What a failed hook reports: the first failed hook of ``revision`` at ``points``."""
    for line in draft.status.hooks:
        if line.revision == revision and line.point in points and line.phase == FAILED:
            return f"{line.point} hook {line.name} failed: {line.message}"
    return ""


def _advance(
    view: ReleaseView,
    draft: Draft,
    hook: Hook,
    point: str,
    revision: str,
    previous: str,
    line: HookStatus | None,
    may_start: bool,
) -> HookStatus | None:
    """Start the hook's Job, or fold in what its Job says; returns its line as left."""
    if line is not None and line.previous_revision:
        previous = line.previous_revision
    if line is None:
        # No record: a first run, or one whose record a crash lost. Its Job, found by
        # name, says which: a finished one stands, a running one is followed.
        attempt, job = last_job(view, hook, point, revision)
        if job is not None and job.failed:
            attempt, job = attempt + 1, None  # an older attempt failed: this is a new one
    else:
        attempt = line.attempt
        job = view.observed.jobs.get(
            names.hook_job_name(view.ctx.name, revision, point, hook.name, attempt)
        )
    name = names.hook_job_name(view.ctx.name, revision, point, hook.name, attempt)
    if line is None or line.phase == PENDING:
        if job is None and not may_start:
            return line
        if name in view.observed.foreign_jobs:
            why = f"a Job not controlled by this release is named {name}"
            return _finish(view, draft, hook, point, revision, previous, attempt, name, FAILED, why)
        line = HookStatus(
            name=hook.name,
            point=point,
            revision=revision,
            phase=RUNNING,
            previous_revision=previous,
            job=name,
            attempt=attempt,
            message="job running" if job is not None else "job created",
            started_at=view.stamp,
        )
        put(draft, line)
        if job is None:
            manifest = build_hook_job(view.ctx, hook, point, revision, previous, attempt)
            draft.act(CreateJob(manifest, hook.name, point, revision, attempt))
            draft.event(Reason.HOOK_STARTED, f"{point} hook {hook.name} for {revision}: {name}")
            return line
    if job is None:
        # Created but not seen yet (the watch lags), or deleted by hand before it
        # finished: creating it again is idempotent by name.
        manifest = build_hook_job(view.ctx, hook, point, revision, previous, attempt)
        draft.act(CreateJob(manifest, hook.name, point, revision, attempt))
    elif job.succeeded:
        return _finish(
            view, draft, hook, point, revision, previous, attempt, name, SUCCEEDED, "job succeeded"
        )
    elif job.failed:
        why = f"job {name} failed: {job.message or 'failed'}"
        return _finish(view, draft, hook, point, revision, previous, attempt, name, FAILED, why)
    started = view.time(line.started_at) if line.started_at else view.now
    deadline = started + timedelta(seconds=hook.timeout_seconds + DEADLINE_GRACE_SECONDS)
    if view.now >= deadline:
        why = f"job {name} gave no result within {hook.timeout_seconds}s"
        return _finish(view, draft, hook, point, revision, previous, attempt, name, FAILED, why)
    draft.wake_in(min(POLL_SECONDS, view.seconds_until(deadline)))
    return line


def last_job(
    view: ReleaseView, hook: Hook, point: str, revision: str
) -> tuple[int, JobState | None]:
    """The latest attempt with a Job of ours for this hook and revision: (1, None) if none."""
    found: tuple[int, JobState | None] = (1, None)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        job = view.observed.jobs.get(
            names.hook_job_name(view.ctx.name, revision, point, hook.name, attempt)
        )
        if job is None:
            break
        found = (attempt, job)
    return found


def _finish(
    view: ReleaseView,
    draft: Draft,
    hook: Hook,
    point: str,
    revision: str,
    previous: str,
    attempt: int,
    job: str,
    phase: str,
    message: str,
) -> HookStatus:
    before = latest(draft.status.hooks, point, hook.name, revision)
    line = HookStatus(
        name=hook.name,
        point=point,
        revision=revision,
        phase=phase,
        previous_revision=previous,
        job=job,
        attempt=attempt,
        message=message[:1024],
        started_at=before.started_at if before and before.started_at else view.stamp,
        finished_at=view.stamp,
    )
    put(draft, line)
    failed = phase == FAILED
    reason = Reason.HOOK_FAILED if failed else Reason.HOOK_SUCCEEDED
    draft.event(reason, f"{point} hook {hook.name} for {revision}: {message}", warning=failed)
    return line


def put(draft: Draft, line: HookStatus) -> None:
    """Replace the line of the same hook, point and revision (one line per hook)."""
    kept = [
        h
        for h in draft.status.hooks
        if (h.point, h.name, h.revision) != (line.point, line.name, line.revision)
    ]
    draft.set(hooks=(*kept, line))
