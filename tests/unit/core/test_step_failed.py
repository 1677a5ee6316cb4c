"""A step that raised shows its cause on the conditions, and keeps what it did."""

from __future__ import annotations

from datetime import UTC, datetime

from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.results import STEP_FAILED, STEP_FAILURE_MESSAGE_CHARS, step_failed
from bluegreen.core.status import Phase, ReleaseStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_failed_step_is_reconciling_not_ready_and_keeps_its_progress() -> None:
    before = ReleaseStatus(phase=Phase.DEPLOYING, revision="abc", message="deploying")
    after = step_failed(before, "500: etcdserver: request timed out", 3, NOW)
    reconciling = after.condition(ConditionType.RECONCILING)
    ready = after.condition(ConditionType.READY)
    assert reconciling is not None and ready is not None
    assert (reconciling.status, reconciling.reason) == (TRUE, STEP_FAILED)
    assert (ready.status, ready.reason) == (FALSE, STEP_FAILED)
    assert "etcdserver: request timed out" in ready.message
    assert (after.phase, after.revision, after.message) == (Phase.DEPLOYING, "abc", "deploying")
    assert after.condition(ConditionType.STALLED) is None, "retried, so not stalled"


def test_the_message_is_bounded() -> None:
    after = step_failed(ReleaseStatus(), "x" * 100_000, 1, NOW)
    ready = after.condition(ConditionType.READY)
    assert ready is not None and len(ready.message) == STEP_FAILURE_MESSAGE_CHARS
