"""Metric checks in whole releases, through the real reconciler over the in-memory world.

The world answers each query for the revision it names (``world.metric_values``),
as Prometheus would select the series by their revision label; the executor
folds the answers in, and the world checks DESIGN.md's invariants throughout
(no switch before every smoke check, metric ones included, passed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bluegreen.api.enums import CheckPhase
from bluegreen.core.actions import PatchSelector, RunMetricCheck
from bluegreen.core.status import CheckStatus, Phase, ReleaseStatus

from .world import (
    Release,
    is_ready,
    is_stalled,
    make_spec,
    metric_check,
    revision_of,
)

HOLD = 120
INTERVAL = 10


def v1_serving(**hold_check: Any) -> Release:
    """v1 released and Complete; the release's spec then moves to v2 with ``hold_check``."""
    release = Release(make_spec("shop:v1", hold=HOLD))
    release.run(3, every=1)
    assert release.status.phase == Phase.COMPLETE
    release.spec = make_spec(
        "shop:v2",
        hold=HOLD,
        hold_checks=[metric_check("errors", **hold_check)],
        hold_interval=INTERVAL,
    )
    return release


def line(status: ReleaseStatus, name: str, stage: str, revision: str = "") -> CheckStatus:
    """The status line of one check; of the desired revision unless ``revision`` says."""
    revision = revision or status.revision
    (found,) = [
        c for c in status.checks if c.name == name and c.stage == stage and c.revision == revision
    ]
    return found


def queries(release: Release) -> list[RunMetricCheck]:
    return release.actions_of(RunMetricCheck)


def rollbacks(release: Release, to: str) -> list[PatchSelector]:
    """Switches of the stable Service back to ``to`` after the release of v2 began."""
    switches = [a for a in release.actions_of(PatchSelector) if a.stable]
    first_v2 = next(i for i, a in enumerate(switches) if a.revision != to)
    return [a for a in switches[first_v2:] if a.revision == to]


def test_a_smoke_metric_check_gates_the_switch_on_the_candidates_value() -> None:
    v1 = revision_of(make_spec("shop:v1"))
    release = Release(make_spec("shop:v1", smoke=[metric_check("kpi", max=0.05)]))
    release.run(3, every=1)
    assert release.status.phase == Phase.COMPLETE
    spec = make_spec("shop:v2", smoke=[metric_check("kpi", max=0.05, maxIncrease=0.01)], hold=HOLD)
    v2 = revision_of(spec)
    release.spec = spec
    release.world.metric_values[("kpi", v2)] = 0.012
    release.world.metric_values[("kpi", v1)] = 0.01
    release.step()
    assert release.status.active is not None and release.status.active.revision == v2
    asked = [q for q in queries(release) if q.revision == v2]
    assert len(asked) == 1
    assert f'revision="{v2}"' in asked[0].query.promql
    assert 'namespace="shop"' in asked[0].query.promql and "[60s]" in asked[0].query.promql
    # Before the switch the previous revision is the serving one, asked now.
    assert asked[0].baseline is not None and asked[0].baseline.at == ""
    assert f'revision="{v1}"' in asked[0].baseline.promql
    kpi = line(release.status, "kpi", "smoke", v2)
    assert (kpi.phase, kpi.value, kpi.baseline) == (CheckPhase.PASSED, "0.012", "0.01")
    assert release.world.violations == []


def test_a_failing_smoke_metric_check_fails_the_candidate_after_its_count() -> None:
    spec = make_spec(
        "shop:v1",
        smoke=[metric_check("kpi", max=0.05, consecutiveFailures=3, intervalSeconds=5)],
    )
    v1 = revision_of(spec)
    release = Release(spec)
    release.world.metric_values[("kpi", v1)] = 0.3
    release.step()
    kpi = line(release.status, "kpi", "smoke")
    assert (kpi.phase, kpi.failures, kpi.value, kpi.verdict) == ("Running", 1, "0.3", "Fail")
    assert release.status.phase == Phase.VERIFYING
    release.advance(4)  # not due yet: the interval is 5 s
    assert len(queries(release)) == 1
    release.advance(1)
    assert line(release.status, "kpi", "smoke").failures == 2
    release.advance(5)
    kpi = line(release.status, "kpi", "smoke")
    assert (kpi.phase, kpi.failures) == ("Failed", 3)
    assert "above max 0.05; 3/3 failures in a row" in kpi.message
    assert release.status.phase == Phase.FAILED and is_stalled(release.status)
    assert "SmokeCheckFailed" in release.reasons()
    assert release.world.stable_revision() is None  # never served
    assert release.world.violations == []


def test_a_bad_revision_is_rolled_back_by_its_hold_check_after_its_count() -> None:
    release = v1_serving(maxIncrease=0.05, consecutiveFailures=2)
    v1 = release.world.stable_revision()
    v2 = revision_of(release.spec)
    release.world.metric_values[("errors", v2)] = 0.2
    release.world.metric_values[("errors", v1 or "")] = 0.001
    release.step()
    assert release.status.phase == Phase.HOLDING
    active = release.status.active
    assert active is not None and active.revision == v2 and active.switched_at
    errors = line(release.status, "errors", "hold")
    assert (errors.phase, errors.failures, errors.value, errors.baseline) == (
        "Running",
        1,
        "0.2",
        "0.001",
    )
    assert "rose by 0.199 (maxIncrease 0.05)" in errors.message
    # The previous revision is asked about the window before the switch.
    asked = queries(release)[-1]
    assert asked.baseline is not None and asked.baseline.at == active.switched_at
    assert f'revision="{v1}"' in asked.baseline.promql
    assert rollbacks(release, v1 or "") == []
    release.advance(INTERVAL)
    assert release.status.phase == Phase.ROLLED_BACK
    assert len(rollbacks(release, v1 or "")) == 1
    assert release.world.stable_revision() == v1
    assert line(release.status, "errors", "hold").failures == 2
    assert "hold check errors failed" in release.status.message
    assert release.world.violations == []


def test_a_pass_between_failures_resets_the_count() -> None:
    release = v1_serving(max=0.05, consecutiveFailures=2)
    v2 = revision_of(release.spec)
    release.world.metric_values[("errors", v2)] = 0.2
    release.step()
    release.world.metric_values[("errors", v2)] = 0.01
    release.advance(INTERVAL)
    assert line(release.status, "errors", "hold").failures == 0
    release.world.metric_values[("errors", v2)] = 0.2
    release.advance(INTERVAL)
    assert line(release.status, "errors", "hold").phase == "Running"
    release.world.metric_values[("errors", v2)] = 0.0
    for _ in range(HOLD // INTERVAL + 2):
        release.advance(INTERVAL)
    assert release.status.phase == Phase.COMPLETE and is_ready(release.status)
    assert release.status.previous is None
    assert release.world.violations == []


def test_without_prometheus_wait_holds_on_and_fails_at_its_deadline() -> None:
    release = v1_serving(max=0.05, inconclusiveTimeoutSeconds=30)
    release.world.prometheus_answer = "unreachable"
    release.step()
    errors = line(release.status, "errors", "hold")
    assert (errors.phase, errors.verdict) == ("Running", "Inconclusive")
    assert "Prometheus unreachable" in errors.message and "waiting (0s of 30s)" in errors.message
    release.advance(INTERVAL)
    release.advance(INTERVAL)
    assert release.status.phase == Phase.HOLDING
    assert line(release.status, "errors", "hold").inconclusive_since == errors.inconclusive_since
    release.advance(INTERVAL)
    assert release.status.phase == Phase.ROLLED_BACK
    assert "inconclusive for 30s" in line(release.status, "errors", "hold").message
    assert release.world.violations == []


def test_an_answer_within_the_deadline_ends_the_wait() -> None:
    release = v1_serving(max=0.05, inconclusiveTimeoutSeconds=30)
    v2 = revision_of(release.spec)
    release.world.metric_values[("errors", v2)] = None  # no data yet: no traffic
    release.step()
    assert line(release.status, "errors", "hold").verdict == "Inconclusive"
    release.world.metric_values[("errors", v2)] = 0.0
    release.advance(INTERVAL)
    errors = line(release.status, "errors", "hold")
    assert (errors.phase, errors.inconclusive_since) == ("Passed", "")
    for _ in range(HOLD // INTERVAL + 2):
        release.advance(INTERVAL)
    assert release.status.phase == Phase.COMPLETE
    assert release.world.violations == []


def test_inconclusive_pass_and_fail_policies() -> None:
    passing = v1_serving(max=0.05, onInconclusive="Pass")
    passing.world.prometheus_answer = "unreachable"
    for _ in range(HOLD // INTERVAL + 2):
        passing.advance(INTERVAL)
    assert passing.status.phase == Phase.COMPLETE
    failing = v1_serving(max=0.05, onInconclusive="Fail")
    failing.world.prometheus_answer = "unreachable"
    failing.step()
    assert failing.status.phase == Phase.ROLLED_BACK
    assert "(onInconclusive: Fail)" in line(failing.status, "errors", "hold").message


def test_a_rejected_query_rolls_back_at_once() -> None:
    release = v1_serving(max=0.05, consecutiveFailures=5)
    release.world.prometheus_answer = "rejected"
    release.step()
    assert release.status.phase == Phase.ROLLED_BACK
    assert "query rejected" in line(release.status, "errors", "hold").message


def test_an_undecided_check_keeps_the_previous_revision_past_the_hold() -> None:
    """A failing streak at the end of the hold is settled before blue goes."""
    release = v1_serving(max=0.05, consecutiveFailures=3)
    v1 = release.world.stable_revision()
    v2 = revision_of(release.spec)
    release.step()
    release.now = release.now + timedelta(seconds=HOLD - 1)
    release.world.metric_values[("errors", v2)] = 0.2
    release.step()
    release.advance(5)  # the hold is over; the check is failing, once
    assert release.status.previous is not None and v1 in release.world.deployments
    release.world.metric_values[("errors", v2)] = 0.0
    release.advance(INTERVAL)
    release.advance(1)
    assert release.status.phase == Phase.COMPLETE and release.status.previous is None
    assert release.world.violations == []


def test_the_count_survives_a_crash_before_the_status_write() -> None:
    """Progress lives in status: an evaluation whose write was lost is simply asked again."""
    release = v1_serving(max=0.05, consecutiveFailures=2)
    v2 = revision_of(release.spec)
    release.world.metric_values[("errors", v2)] = 0.2
    release.step()
    assert line(release.status, "errors", "hold").failures == 1
    release.now = release.now + timedelta(seconds=INTERVAL)
    crashed = release.step(crash_at=(0, 99))
    assert crashed.crashed
    assert line(release.status, "errors", "hold").failures == 1
    release.step()
    assert release.status.phase == Phase.ROLLED_BACK
    assert release.world.violations == []
