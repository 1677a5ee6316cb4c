"""Metric checks decided in core: templating, the condition, failures in a row, and what
an evaluation without an answer counts as; and the parser's bounds on the spec."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.api.enums import CheckPhase, InconclusivePolicy, MetricVerdict
from bluegreen.api.status_parts import CheckStatus
from bluegreen.core import metric_checks as m
from bluegreen.core.errors import SpecError
from bluegreen.core.spec import MetricCheck, parse_spec
from bluegreen.core.timefmt import format_time

from .world import T0

PASS, FAIL, INCONCLUSIVE = MetricVerdict.PASS, MetricVerdict.FAIL, MetricVerdict.INCONCLUSIVE
PASSED, FAILED, RUNNING = CheckPhase.PASSED, CheckPhase.FAILED, CheckPhase.RUNNING


def value(v: float) -> m.QueryResult:
    return m.QueryResult.of(v)


NO_DATA = m.QueryResult(m.QueryOutcome.NO_DATA, message="the query gave no series")
DOWN = m.QueryResult(m.QueryOutcome.UNREACHABLE, message="ClientConnectorError")
REJECTED = m.QueryResult(m.QueryOutcome.REJECTED, message="bad_data: parse error")


# --------------------------------------------------------------------------- templating


def test_every_variable_is_rendered_with_or_without_spaces() -> None:
    values = m.variables("shop", "web", "5d8f9c2a1b", "91ab23cd45", 90)
    rendered = m.render(
        'x{ns="{{namespace}}",r="{{ release }}",rev="{{revision}}",'
        'prev="{{previousRevision}}"}[{{window}}]',
        values,
    )
    assert rendered == 'x{ns="shop",r="web",rev="5d8f9c2a1b",prev="91ab23cd45"}[90s]'


def test_unknown_variables_are_named_once_in_order() -> None:
    query = "{{revision}} {{bogus}} {{ Namespace }} {{bogus}} {{window}}"
    assert m.unknown_variables(query) == ["bogus", "Namespace"]
    assert m.unknown_variables("sum(up) {not a placeholder}") == []


# --------------------------------------------------------------------------- one evaluation


def metric(**fields: Any) -> MetricCheck:
    return MetricCheck(query="q", **fields)


@pytest.mark.parametrize(
    ("check", "result", "baseline", "verdict", "words"),
    [
        (metric(max=0.05), value(0.05), None, PASS, "within bounds"),
        (metric(max=0.05), value(0.2), None, FAIL, "above max 0.05"),
        (metric(min=10), value(9.5), None, FAIL, "below min 10"),
        (metric(min=1, max=2), value(1.5), None, PASS, "within bounds"),
        (metric(max=1), value(math.inf), None, FAIL, "value +Inf"),
        (metric(max_increase=0.01), value(0.015), value(0.01), PASS, "previous revision 0.01"),
        (metric(max_increase=0.01), value(0.03), value(0.01), FAIL, "rose by 0.02"),
        (metric(max_increase_percent=50), value(0.3), value(0.2), PASS, "within bounds"),
        (metric(max_increase_percent=50), value(0.31), value(0.2), FAIL, "rose by 55%"),
        (metric(max_increase_percent=50), value(0.1), value(0), FAIL, "an infinite share"),
        (metric(max_increase_percent=50), value(0), value(0), PASS, "within bounds"),
        (metric(max_increase_percent=10), value(-0.85), value(-1), FAIL, "rose by 15%"),
        # A first release has no previous revision: the comparison holds, the threshold not.
        (metric(max_increase=0), value(5), None, PASS, "value 5: within bounds"),
        (metric(max=1, max_increase=0), value(5), None, FAIL, "above max 1"),
        # Every broken bound is named.
        (metric(max=0.05, max_increase=0.01), value(0.2), value(0), FAIL, "max 0.05; rose"),
    ],
)
def test_condition(
    check: MetricCheck,
    result: m.QueryResult,
    baseline: m.QueryResult | None,
    verdict: str,
    words: str,
) -> None:
    evaluation = m.evaluate(check, result, baseline)
    assert evaluation.verdict == verdict, evaluation
    assert words in evaluation.reason
    assert evaluation.value == m.format_value(result.value)
    assert not evaluation.rejected


@pytest.mark.parametrize(
    ("result", "baseline", "verdict", "rejected", "words"),
    [
        (NO_DATA, value(0), INCONCLUSIVE, False, "no series"),
        (m.QueryResult.of(math.nan), value(0), INCONCLUSIVE, False, "NaN"),
        (DOWN, value(0), INCONCLUSIVE, False, "Prometheus unreachable: ClientConnectorError"),
        (value(0.1), NO_DATA, INCONCLUSIVE, False, "previous revision: the query gave no"),
        (value(0.1), DOWN, INCONCLUSIVE, False, "previous revision: Prometheus unreachable"),
        (REJECTED, value(0), FAIL, True, "query rejected: bad_data"),
        (value(0.1), REJECTED, FAIL, True, "baseline query rejected"),
    ],
)
def test_evaluations_without_a_value(
    result: m.QueryResult, baseline: m.QueryResult, verdict: str, rejected: bool, words: str
) -> None:
    evaluation = m.evaluate(metric(max_increase=0.5), result, baseline)
    assert (evaluation.verdict, evaluation.rejected) == (verdict, rejected)
    assert words in evaluation.reason


def test_a_baseline_is_ignored_when_the_condition_does_not_compare() -> None:
    evaluation = m.evaluate(metric(max=1), value(0.5), DOWN)
    assert evaluation.verdict == PASS and evaluation.baseline == ""


# --------------------------------------------------------------------------- in a row


def prior(phase: str, failures: int = 0, since: str = "") -> CheckStatus:
    return CheckStatus(
        "errors",
        "hold",
        "metric",
        "5d8f9c2a1b",
        phase,
        failures=failures,
        inconclusive_since=since,
    )


def fold(
    check: MetricCheck, verdict: str, before: CheckStatus | None, seconds: float = 0
) -> m.Progress:
    evaluation = m.Evaluation(verdict, f"{verdict.lower()} reason", rejected=False)
    return m.fold(check, evaluation, before, T0 + timedelta(seconds=seconds))


STAMP = format_time(T0)


@pytest.mark.parametrize(
    ("limit", "before", "verdict", "phase", "failures"),
    [
        (1, None, FAIL, FAILED, 1),
        (3, None, FAIL, RUNNING, 1),
        (3, prior(RUNNING, 1), FAIL, RUNNING, 2),
        (3, prior(RUNNING, 2), FAIL, FAILED, 3),
        (3, prior(RUNNING, 2), PASS, PASSED, 0),
        (3, prior(PASSED, 0), FAIL, RUNNING, 1),
        # A new attempt at the revision (phase Pending) starts counting afresh.
        (2, prior(CheckPhase.PENDING, 1), FAIL, RUNNING, 1),
    ],
)
def test_failures_in_a_row(
    limit: int, before: CheckStatus | None, verdict: str, phase: str, failures: int
) -> None:
    progress = fold(metric(max=1, consecutive_failures=limit), verdict, before)
    assert (progress.phase, progress.failures) == (phase, failures)
    if verdict == FAIL:
        assert f"{failures}/{limit} failures in a row" in progress.message


def test_a_rejected_query_fails_at_once_whatever_the_count() -> None:
    evaluation = m.evaluate(metric(max=1), REJECTED, None)
    progress = m.fold(metric(max=1, consecutive_failures=5), evaluation, None, T0)
    assert (progress.phase, progress.failures) == (FAILED, 1)


def test_wait_keeps_the_count_and_fails_at_the_deadline() -> None:
    check = metric(max=1, consecutive_failures=3, inconclusive_timeout_seconds=60)
    first = fold(check, INCONCLUSIVE, prior(RUNNING, 2))
    assert (first.phase, first.failures, first.inconclusive_since) == (RUNNING, 2, STAMP)
    assert "waiting (0s of 60s)" in first.message
    later = fold(check, INCONCLUSIVE, prior(RUNNING, 2, STAMP), seconds=59)
    assert (later.phase, later.inconclusive_since) == (RUNNING, STAMP)
    due = fold(check, INCONCLUSIVE, prior(RUNNING, 2, STAMP), seconds=60)
    assert due.phase == FAILED and "inconclusive for 60s (limit 60s)" in due.message
    # An answer ends the wait: its clock starts again at the next silence.
    answered = fold(check, PASS, prior(RUNNING, 2, STAMP), seconds=30)
    assert (answered.phase, answered.failures, answered.inconclusive_since) == (PASSED, 0, "")
    failed = fold(check, FAIL, prior(RUNNING, 1, STAMP), seconds=30)
    assert (failed.phase, failed.failures, failed.inconclusive_since) == (RUNNING, 2, "")


def test_wait_after_a_pass_is_pending_again() -> None:
    progress = fold(metric(max=1), INCONCLUSIVE, prior(PASSED))
    assert progress.phase == RUNNING


@pytest.mark.parametrize(
    ("policy", "limit", "phase", "failures"),
    [
        (InconclusivePolicy.PASS, 1, PASSED, 0),
        (InconclusivePolicy.FAIL, 1, FAILED, 1),
        (InconclusivePolicy.FAIL, 2, RUNNING, 1),
    ],
)
def test_inconclusive_counts_as_the_policy_says(
    policy: str, limit: int, phase: str, failures: int
) -> None:
    check = metric(max=1, on_inconclusive=policy, consecutive_failures=limit)
    progress = fold(check, INCONCLUSIVE, None)
    assert (progress.phase, progress.failures, progress.inconclusive_since) == (phase, failures, "")
    assert f"(onInconclusive: {policy})" in progress.message


def test_messages_stay_bounded() -> None:
    evaluation = m.Evaluation(FAIL, "x" * 500)
    progress = m.fold(metric(max=1), evaluation, None, T0)
    assert len(progress.message) == m.MESSAGE_LIMIT and progress.message.endswith("...")


# --------------------------------------------------------------------------- the spec


def spec_with(check: dict[str, Any]) -> dict[str, Any]:
    return {
        "template": {"spec": {"containers": [{"name": "app", "image": "shop:v2"}]}},
        "service": {"name": "shop"},
        "hold": {"checks": [{"name": "errors", "metric": check}]},
    }


def test_a_metric_check_parses_with_defaults() -> None:
    parsed = parse_spec(spec_with({"query": "sum(up)", "max": 1}))
    check = parsed.hold.checks[0]
    assert check.kind == "metric" and check.metric is not None
    assert check.metric == MetricCheck(query="sum(up)", max=1.0)
    assert check.metric.on_inconclusive == "Wait" and check.metric.window_seconds == 60
    assert not check.metric.compares
    compared = parse_spec(spec_with({"query": "sum(up)", "maxIncreasePercent": 5}))
    assert compared.hold.checks[0].metric == replace(
        MetricCheck(query="sum(up)"), max_increase_percent=5.0
    )


@pytest.mark.parametrize(
    ("check", "words"),
    [
        ({"query": "sum(up)"}, "needs a condition"),
        ({"query": "  ", "max": 1}, "must be a PromQL query"),
        ({"query": "x" * 2049, "max": 1}, "at most 2048"),
        ({"query": "up\x00", "max": 1}, "control characters"),
        ({"query": "up{rev='{{rev}}'}", "max": 1}, "unknown variables ['rev']"),
        ({"query": "up", "max": "0.1"}, "metric.max must be a finite number"),
        ({"query": "up", "max": True}, "metric.max must be a finite number"),
        ({"query": "up", "max": math.inf}, "metric.max must be a finite number"),
        ({"query": "up", "maxIncrease": -1}, "at least 0"),
        ({"query": "up", "max": 1, "onInconclusive": "Maybe"}, "Wait, Fail or Pass"),
        ({"query": "up", "max": 1, "windowSeconds": 0}, "windowSeconds"),
        ({"query": "up", "max": 1, "timeoutSeconds": 61}, "timeoutSeconds"),
        ({"query": "up", "max": 1, "consecutiveFailures": 0}, "consecutiveFailures"),
        ({"query": "up", "max": 1, "intervalSeconds": 0}, "intervalSeconds"),
    ],
)
def test_bad_metric_checks_are_refused(check: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with(check))
    assert caught.value.reason == "InvalidCheck"
    assert words in caught.value.message


def test_a_check_of_two_kinds_is_refused() -> None:
    raw = spec_with({"query": "up", "max": 1})
    raw["hold"]["checks"][0]["http"] = {"path": "/"}
    with pytest.raises(SpecError, match="exactly one of http, job or metric"):
        parse_spec(raw)


# --------------------------------------------------------------------------- the guide's sample


def test_the_guides_sample_parses_and_the_guide_quotes_it_whole() -> None:
    """docs/examples/kpi-release.yaml is what the tests apply and what the guide shows."""
    repo = Path(__file__).resolve().parents[3]
    sample = (repo / "docs" / "examples" / "kpi-release.yaml").read_text(encoding="utf-8")
    parsed = parse_spec(yaml.safe_load(sample)["spec"])
    kinds = {c.name: c.kind for c in (*parsed.smoke_checks, *parsed.hold.checks)}
    assert kinds == {"scraped": "metric", "error-rate": "metric", "latency-p99": "metric"}
    error_rate = parsed.hold.checks[0].metric
    assert error_rate is not None and error_rate.compares
    guide = (repo / "docs" / "kpi-checks.md").read_text(encoding="utf-8")
    quoted = guide.split("<!-- sample: docs/examples/kpi-release.yaml -->\n```yaml\n")[1]
    assert quoted.split("```\n<!-- end sample -->")[0] == sample
