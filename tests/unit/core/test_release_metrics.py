"""What whole releases leave in the operator's registry, through the real reconciler
over the in-memory world: checks of every kind counted once per run, reconciles and
Terraform runs by result."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bluegreen.core.status import Phase

from .world import (
    Release,
    http_check,
    is_stalled,
    job_check,
    later,
    make_spec,
    metric_check,
    revision_of,
)

SMOKE = [http_check("home"), job_check("e2e"), metric_check("kpi", max=0.05)]


def series(release: Release, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """``name``'s samples in the text the operator serves: labels -> value."""
    text = generate_latest(release.world.metrics().registry).decode()
    return {
        frozenset(s.labels.items()): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def checks(release: Release) -> dict[tuple[str, str, str], float]:
    """(stage, kind, result) -> runs, for the world's release."""
    return {
        (dict(k)["stage"], dict(k)["kind"], dict(k)["result"]): v
        for k, v in series(release, "bluegreen_checks_total").items()
    }


def by_result(release: Release, name: str, **labels: str) -> dict[str, float]:
    return {
        dict(k)["result"]: v
        for k, v in series(release, name).items()
        if labels.items() <= dict(k).items()
    }


def test_a_release_counts_each_check_of_every_kind_once() -> None:
    release = Release(make_spec("shop:v1", smoke=SMOKE))
    release.run(6, every=1)
    assert release.status.phase == Phase.COMPLETE
    assert checks(release) == {
        ("smoke", "http", "passed"): 1,
        ("smoke", "job", "passed"): 1,
        ("smoke", "metric", "passed"): 1,
    }
    reconciles = by_result(release, "bluegreen_reconciles_total")
    assert reconciles == {"succeeded": 6, "failed": 0}
    assert by_result(release, "bluegreen_reconcile_duration_seconds_count") == {"succeeded": 6}
    applies = by_result(release, "bluegreen_terraform_runs_total", operation="apply")
    assert applies == {"succeeded": 1}
    timed = by_result(release, "bluegreen_terraform_run_duration_seconds_count", operation="apply")
    assert timed == {"succeeded": 1}


def test_a_failed_job_check_is_counted_once_however_often_the_release_wakes() -> None:
    spec = make_spec("shop:v1", smoke=[job_check("e2e")])
    release = Release(spec)
    release.world.job_outcomes[("e2e", revision_of(spec))] = False
    release.run(5, every=1)
    assert is_stalled(release.status)
    assert checks(release) == {("smoke", "job", "failed"): 1}


def test_failing_terraform_and_a_crashed_reconcile_count_as_failed() -> None:
    release = Release(make_spec("shop:v1"))
    release.world.infra_failure = "provider unreachable"
    release.step()
    applies = by_result(release, "bluegreen_terraform_runs_total", operation="apply")
    assert applies == {"failed": 1}
    timed = by_result(release, "bluegreen_terraform_run_duration_seconds_count", operation="apply")
    assert timed == {"failed": 1}
    release.world.infra_failure = None
    release.now = later(release.now, 120)  # past the retry delay: the apply runs again
    assert release.step(crash_at=(0, 0)).crashed  # killed before the apply
    assert by_result(release, "bluegreen_reconciles_total")["failed"] == 1
