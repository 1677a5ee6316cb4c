"""Metric checks, decided: the query's variables, the condition, failures in a row,
and what an evaluation without an answer counts as.

Pure: ``adapters.prometheus`` asks Prometheus and hands back ``QueryResult``s;
everything that judges them is here. One evaluation gives a verdict (Pass,
Fail, Inconclusive); ``fold`` adds it to the check's earlier evaluations, kept
in its status line (``failures``, ``inconclusiveSince``), so the outcome is the
same after an operator restart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from bluegreen.api.checks import METRIC_VARIABLES, MetricCheck
from bluegreen.api.enums import CheckPhase, InconclusivePolicy, MetricVerdict
from bluegreen.api.status_parts import CheckStatus
from bluegreen.core.timefmt import format_time, parse_time

MESSAGE_LIMIT: Final = 200
_PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z]+)\s*\}\}")


# --------------------------------------------------------------------------- the query


def unknown_variables(template: str) -> list[str]:
    """Names between ``{{ }}`` that are not variables of a metric query, in order."""
    found = [m.group(1) for m in _PLACEHOLDER.finditer(template)]
    return [name for name in dict.fromkeys(found) if name not in METRIC_VARIABLES]


def variables(
    namespace: str, release: str, revision: str, previous_revision: str, window_seconds: int
) -> dict[str, str]:
    """The values of a query's variables; every one is a DNS label, hex or a duration,
    so none can break out of a PromQL string literal."""
    return {
        "namespace": namespace,
        "release": release,
        "revision": revision,
        "previousRevision": previous_revision,
        "window": f"{window_seconds}s",
    }


def render(template: str, values: Mapping[str, str]) -> str:
    """The query with its variables replaced (the parser refused unknown names)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True)
class MetricQuery:
    """One instant query to send."""

    promql: str
    timeout_seconds: float
    at: str = ""
    """Evaluation time (RFC 3339); empty for now."""


class QueryOutcome(StrEnum):
    VALUE = "value"
    """One number."""
    NO_DATA = "noData"
    """An empty result, or NaN (a ratio of nothing to nothing)."""
    UNREACHABLE = "unreachable"
    """No answer: refused, timed out, or an error of Prometheus itself (5xx)."""
    REJECTED = "rejected"
    """Prometheus refused the query, or its result is not one number: asking again
    cannot help."""


@dataclass(frozen=True)
class QueryResult:
    outcome: str
    value: float = 0.0
    message: str = ""
    """Why there is no value (never the query's text)."""

    @staticmethod
    def of(value: float) -> QueryResult:
        if math.isnan(value):
            return QueryResult(QueryOutcome.NO_DATA, message="the query gave NaN")
        return QueryResult(QueryOutcome.VALUE, value)


# --------------------------------------------------------------------------- one evaluation


@dataclass(frozen=True)
class Evaluation:
    verdict: str
    """A ``MetricVerdict``."""
    reason: str
    value: str = ""
    baseline: str = ""
    rejected: bool = False
    """The query itself is wrong: the check fails at once, whatever the counts say."""


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}"


def evaluate(check: MetricCheck, result: QueryResult, baseline: QueryResult | None) -> Evaluation:
    """The verdict of one evaluation (no side effects).

    ``baseline`` is the previous revision's value, asked only when the condition
    compares; None when there is no previous revision (a first release), and the
    comparison then holds.
    """
    if result.outcome == QueryOutcome.REJECTED:
        return Evaluation(MetricVerdict.FAIL, f"query rejected: {result.message}", rejected=True)
    if result.outcome != QueryOutcome.VALUE or math.isnan(result.value):
        return Evaluation(MetricVerdict.INCONCLUSIVE, _no_answer(result, "no data"))
    value = result.value
    shown = format_value(value)
    base: float | None = None
    if check.compares and baseline is not None:
        if baseline.outcome == QueryOutcome.REJECTED:
            return Evaluation(
                MetricVerdict.FAIL,
                f"baseline query rejected: {baseline.message}",
                value=shown,
                rejected=True,
            )
        if baseline.outcome != QueryOutcome.VALUE or math.isnan(baseline.value):
            why = _no_answer(baseline, "no data")
            return Evaluation(MetricVerdict.INCONCLUSIVE, f"previous revision: {why}", value=shown)
        base = baseline.value
    broken = _broken_bounds(check, value, base)
    verdict = MetricVerdict.FAIL if broken else MetricVerdict.PASS
    described = f"value {shown}"
    if base is not None:
        described += f", previous revision {format_value(base)}"
    reason = f"{described}: {'; '.join(broken)}" if broken else f"{described}: within bounds"
    return Evaluation(
        verdict,
        bounded(reason),
        value=shown,
        baseline="" if base is None else format_value(base),
    )


def _no_answer(result: QueryResult, default: str) -> str:
    if result.outcome == QueryOutcome.UNREACHABLE:
        return f"Prometheus unreachable: {result.message or 'no answer'}"
    return result.message or default


def _broken_bounds(check: MetricCheck, value: float, base: float | None) -> list[str]:
    """Each bound the value breaks, in words; empty when all hold."""
    broken = []
    if check.max is not None and not value <= check.max:
        broken.append(f"above max {format_value(check.max)}")
    if check.min is not None and not value >= check.min:
        broken.append(f"below min {format_value(check.min)}")
    if base is None:
        return broken
    rise = value - base
    if check.max_increase is not None and not rise <= check.max_increase:
        broken.append(
            f"rose by {format_value(rise)} (maxIncrease {format_value(check.max_increase)})"
        )
    if check.max_increase_percent is not None:
        allowed = abs(base) * check.max_increase_percent / 100
        if not rise <= allowed:
            share = "an infinite share" if base == 0 else f"{100 * rise / abs(base):.3g}%"
            broken.append(
                f"rose by {share} (maxIncreasePercent {format_value(check.max_increase_percent)})"
            )
    return broken


# --------------------------------------------------------------------------- evaluations in a row


@dataclass(frozen=True)
class Progress:
    """Where a check stands after one more evaluation."""

    phase: str
    """Passed, Failed, or Running (failing, but not yet as often as allowed; or waiting
    for an answer)."""
    failures: int
    inconclusive_since: str
    message: str


def fold(
    check: MetricCheck, evaluation: Evaluation, prior: CheckStatus | None, now: datetime
) -> Progress:
    """Add one evaluation to the check's earlier ones (``prior``, its status line).

    A pass resets the count of failures; ``consecutiveFailures`` failures in a
    row fail the check; a rejected query fails it at once. An inconclusive
    evaluation counts as the policy says: under Wait it changes nothing but the
    time the answers went missing, and fails the check once that is older than
    ``inconclusiveTimeoutSeconds``.
    """
    fresh = prior is None or prior.phase == CheckPhase.PENDING
    failures = 0 if fresh or prior is None else prior.failures
    since = "" if fresh or prior is None else prior.inconclusive_since
    counted = evaluation.verdict
    note = ""
    if evaluation.verdict == MetricVerdict.INCONCLUSIVE:
        policy = check.on_inconclusive
        if policy == InconclusivePolicy.WAIT:
            return _waiting(check, evaluation, failures, since, now)
        counted = MetricVerdict.PASS if policy == InconclusivePolicy.PASS else MetricVerdict.FAIL
        note = f" (onInconclusive: {policy})"
    if counted == MetricVerdict.PASS:
        return Progress(CheckPhase.PASSED, 0, "", bounded(evaluation.reason + note))
    failures += 1
    limit = check.consecutive_failures
    message = f"{evaluation.reason}{note}; {failures}/{limit} failures in a row"
    failed = evaluation.rejected or failures >= limit
    phase = CheckPhase.FAILED if failed else CheckPhase.RUNNING
    return Progress(phase, failures, "", bounded(message))


def _waiting(
    check: MetricCheck, evaluation: Evaluation, failures: int, since: str, now: datetime
) -> Progress:
    started = parse_time(since) if since else None
    if started is None:
        started, since = now, format_time(now)
    waited = max(0.0, (now - started).total_seconds())
    limit = check.inconclusive_timeout_seconds
    if waited >= limit:
        message = f"{evaluation.reason}; inconclusive for {waited:.0f}s (limit {limit}s)"
        return Progress(CheckPhase.FAILED, failures, since, bounded(message))
    message = f"{evaluation.reason}; waiting ({waited:.0f}s of {limit}s)"
    return Progress(CheckPhase.RUNNING, failures, since, bounded(message))


def bounded(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."
