"""Which checks have to run, and what their recorded results add up to."""

from __future__ import annotations

from collections.abc import Iterable

from bluegreen.api.enums import CheckKind, CheckPhase, CheckStage
from bluegreen.core.spec import Check
from bluegreen.core.status import CheckStatus

PASSED, FAILED = CheckPhase.PASSED, CheckPhase.FAILED
RUNNING, PENDING = CheckPhase.RUNNING, CheckPhase.PENDING
SMOKE, HOLD = CheckStage.SMOKE, CheckStage.HOLD


def latest(
    results: Iterable[CheckStatus], stage: str, name: str, revision: str
) -> CheckStatus | None:
    """The most recent run of one check for one revision and stage."""
    runs = [r for r in results if r.stage == stage and r.name == name and r.revision == revision]
    return max(runs, key=lambda r: r.run, default=None)


def upsert(results: Iterable[CheckStatus], entry: CheckStatus) -> tuple[CheckStatus, ...]:
    """Replace the entry of the same check, stage and revision (one line per check)."""
    kept = [
        r
        for r in results
        if not (r.stage == entry.stage and r.name == entry.name and r.revision == entry.revision)
    ]
    return (*kept, entry)


def finished_jobs(
    before: Iterable[CheckStatus], after: Iterable[CheckStatus]
) -> tuple[CheckStatus, ...]:
    """Runs of Job checks whose result ``after`` records and ``before`` did not.

    HTTP and metric checks are counted where the operator runs them; a Job runs
    in the cluster and its result shows only in status, once per run.
    """
    done = {(r.stage, r.name, r.revision, r.run) for r in before if r.phase in (PASSED, FAILED)}
    return tuple(
        r
        for r in after
        if r.kind == CheckKind.JOB
        and r.phase in (PASSED, FAILED)
        and (r.stage, r.name, r.revision, r.run) not in done
    )


def keep_revisions(
    results: Iterable[CheckStatus], revisions: Iterable[str]
) -> tuple[CheckStatus, ...]:
    wanted = set(revisions)
    return tuple(r for r in results if r.revision in wanted)


def summary(checks: Iterable[Check], results: Iterable[CheckStatus], stage: str, rev: str) -> str:
    """PASSED when every check passed, FAILED when any failed, else PENDING."""
    listed = list(results)
    phases = [getattr(latest(listed, stage, c.name, rev), "phase", PENDING) for c in checks]
    if FAILED in phases:
        return FAILED
    if all(p == PASSED for p in phases):
        return PASSED
    return PENDING
