"""Running smoke and hold checks: HTTP checks each step, Jobs across steps.

An HTTP check is one action whose result the reconciler records; a Job check
spans decisions (created, then observed until it finishes), so its progress
lives in ``status.checks`` with a run number that names its Job. A metric check
is one query per evaluation, evaluated again every interval while it is
failing (but not yet as often as allowed) or without an answer, and during the
hold; ``core.metric_checks`` judges the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bluegreen.core import checks as chk
from bluegreen.core import metric_checks as metric
from bluegreen.core import names
from bluegreen.core.actions import CreateJob, DeleteJob, RunHttpCheck, RunMetricCheck
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.manifests import build_check_job
from bluegreen.core.spec import Check
from bluegreen.core.status import CheckStatus
from bluegreen.core.timefmt import parse_time

_PRUNE_WINDOW = 10
"""Runs looked back at when pruning: older ones were pruned when they were recent."""


@dataclass(frozen=True)
class _CheckRun:
    """One check of one stage, run against one revision."""

    check: Check
    stage: str
    revision: str

    def job_name(self, view: ReleaseView, run: int) -> str:
        return names.job_name(view.ctx.name, self.revision, self.check.name, self.stage, run)


def run_checks(
    view: ReleaseView, draft: Draft, checks: tuple[Check, ...], stage: str, revision: str
) -> str:
    """Start due checks and fold in finished Jobs; returns the stage's verdict."""
    for check in checks:
        _advance(view, draft, _CheckRun(check, stage, revision))
    verdict = chk.summary(checks, draft.status.checks, stage, revision)
    if verdict == chk.PENDING:
        draft.wake_in(view.ctx.switch_confirm_requeue_seconds * 5)
    return verdict


def first_failure(view: ReleaseView, draft: Draft, stage: str) -> str:
    """What a failed stage reports: its first failed check of the desired revision."""
    for result in draft.status.checks:
        if result.stage == stage and result.revision == view.desired and result.phase == chk.FAILED:
            return f"{stage} check {result.name} failed: {result.message}"
    return f"a {stage} check failed"


def _advance(view: ReleaseView, draft: Draft, target: _CheckRun) -> None:
    """One check one step on: fold in its finished Job, or start a run that is due."""
    check, stage, revision = target.check, target.stage, target.revision
    last = chk.latest(draft.status.checks, stage, check.name, revision)
    if last is not None and last.phase == chk.FAILED:
        return
    if last is not None and last.phase == chk.RUNNING and check.job is not None:
        _observe_job(view, draft, target, last)
        return
    if check.metric is not None:
        _advance_metric(view, draft, target, last)
        return
    if last is not None and last.phase == chk.PASSED and not _rerun_due(view, draft, last):
        return
    run = (last.run + 1) if last else 1
    if check.http is not None:
        draft.act(RunHttpCheck(check, stage, revision, run=run, url=_url(view, target)))
        draft.continue_now = True
        return
    # A Job left by an attempt whose status was lost (a crash) must not stand in
    # for this run: its result belongs to other pods. Number past every Job seen,
    # and past names held by objects that are not ours.
    taken = set(view.observed.jobs) | set(view.observed.foreign_jobs)
    while target.job_name(view, run) in taken:
        run += 1
    _prune_finished_jobs(view, draft, target, run)
    _create_job(view, draft, target, run)
    # Jobs are attempted once; Kubernetes retries inside per backoffLimit.
    _record(view, draft, target, run, chk.RUNNING, "job created", attempts=1)


def _prune_finished_jobs(view: ReleaseView, draft: Draft, target: _CheckRun, run: int) -> None:
    """Hold checks re-run for the whole hold: keep only the last finished Job."""
    for older in range(max(1, run - _PRUNE_WINDOW), run - 1):
        name = target.job_name(view, older)
        job = view.observed.jobs.get(name)
        if job is not None and (job.succeeded or job.failed):
            draft.act(DeleteJob(name, job.uid, job.resource_version))


def _observe_job(view: ReleaseView, draft: Draft, target: _CheckRun, last: CheckStatus) -> None:
    job = view.observed.jobs.get(target.job_name(view, last.run))
    if job is None:
        # Lost before it finished (deleted, or a crash before creation): start it again.
        _create_job(view, draft, target, last.run)
        return
    if not job.succeeded and not job.failed:
        return
    phase = chk.PASSED if job.succeeded else chk.FAILED
    message = job.message or ("job succeeded" if job.succeeded else "job failed")
    _record(view, draft, target, last.run, phase, message, attempts=last.attempts)
    if job.succeeded:
        reason = "CheckPassed"
    else:
        reason = "SmokeCheckFailed" if target.stage == chk.SMOKE else "HoldCheckFailed"
    draft.event(
        reason,
        f"{target.stage} check {target.check.name} for {target.revision}: {message}",
        warning=not job.succeeded,
    )


def _create_job(view: ReleaseView, draft: Draft, target: _CheckRun, run: int) -> None:
    check, stage, revision = target.check, target.stage, target.revision
    manifest = build_check_job(view.ctx, check, stage, revision, run, _url(view, target))
    draft.act(CreateJob(manifest, check.name, stage, revision, run))


def _record(
    view: ReleaseView,
    draft: Draft,
    target: _CheckRun,
    run: int,
    phase: str,
    message: str,
    attempts: int,
) -> None:
    """The result of one run, replacing the check's earlier line in status."""
    entry = CheckStatus(
        name=target.check.name,
        stage=target.stage,
        kind=target.check.kind,
        revision=target.revision,
        phase=phase,
        attempts=attempts,
        message=message,
        time=view.stamp,
        run=run,
    )
    draft.set(checks=chk.upsert(draft.status.checks, entry))


def _advance_metric(
    view: ReleaseView, draft: Draft, target: _CheckRun, last: CheckStatus | None
) -> None:
    """Evaluate a metric check when it is due.

    A passed check is done before the switch and evaluated again every interval
    during the hold; one still undecided (failing fewer times than allowed, or
    without an answer) is evaluated again every interval until it passes or
    fails, past the end of the hold too: the count and the inconclusive deadline
    bound that.
    """
    spec = target.check.metric
    assert spec is not None
    interval = spec.interval_seconds or view.spec.hold.check_interval_seconds
    if last is not None and last.phase == chk.PASSED:
        if not _rerun_due(view, draft, last, interval):
            return
    elif last is not None and last.phase == chk.RUNNING:
        due = view.time(last.time) + timedelta(seconds=interval)
        if view.now < due:
            draft.wake_in(view.seconds_until(due))
            return
    run = (last.run + 1) if last else 1
    draft.act(_metric_action(view, draft, target, run))
    draft.continue_now = True


def _metric_action(view: ReleaseView, draft: Draft, target: _CheckRun, run: int) -> RunMetricCheck:
    """The check's query for its revision, and the previous revision's when it compares.

    Before the switch the previous revision is the one serving, asked now; during
    the hold it is the held one, asked at the switch: its value over the window
    before traffic moved.
    """
    spec = target.check.metric
    assert spec is not None
    status = draft.status
    if target.stage == chk.SMOKE:
        previous = status.active.revision if status.active else ""
        baseline_at = ""
    else:
        previous = status.previous.revision if status.previous else ""
        active = status.active
        switched = active is not None and active.revision == target.revision
        baseline_at = active.switched_at if switched and active is not None else ""
    if previous == target.revision:
        previous = ""
    ctx = view.ctx
    values = metric.variables(
        ctx.namespace, ctx.name, target.revision, previous, spec.window_seconds
    )
    query = metric.MetricQuery(metric.render(spec.query, values), spec.timeout_seconds)
    baseline = None
    if spec.compares and previous:
        # The same query, about the previous revision: its own previous is unknown here.
        earlier = metric.variables(ctx.namespace, ctx.name, previous, "", spec.window_seconds)
        baseline = metric.MetricQuery(
            metric.render(spec.query, earlier), spec.timeout_seconds, at=baseline_at
        )
    return RunMetricCheck(target.check, target.stage, target.revision, run, query, baseline)


def _rerun_due(
    view: ReleaseView, draft: Draft, last: CheckStatus, interval: float | None = None
) -> bool:
    """Hold checks run again every interval while the hold lasts; smoke checks pass once."""
    if last.stage != chk.HOLD:
        return False
    seconds = view.spec.hold.check_interval_seconds if interval is None else interval
    due = view.time(last.time) + timedelta(seconds=seconds)
    previous = draft.status.previous
    hold_ends = parse_time(previous.delete_after) if previous else None
    if hold_ends is not None and due >= hold_ends:
        return False
    if view.now >= due:
        return True
    draft.wake_in(view.seconds_until(due))
    return False


def _url(view: ReleaseView, target: _CheckRun) -> str:
    """Smoke checks reach the candidate through the preview Service; hold checks, stable."""
    check, smoke = target.check, target.stage == chk.SMOKE
    service = view.observed.preview if smoke else view.observed.stable
    fallback = view.spec.preview_service_name if smoke else view.spec.service.name
    path = check.http.path if check.http else "/"
    if check.http is not None and check.http.url:
        return f"{check.http.url}{path}"
    port = (check.http.port if check.http else None) or view.spec.service.port
    host = service.cluster_ip if service and service.cluster_ip else None
    host = host or f"{fallback}.{view.ctx.namespace}.svc"
    return f"http://{host}:{port}{path}"
