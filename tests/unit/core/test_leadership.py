"""The Lease protocol's rules: who may take the Lease, and for how long a leader acts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bluegreen.core.leadership import (
    LeaseRecord,
    LeaseTimings,
    Move,
    claimed,
    leading_until,
    next_move,
    observe,
    released,
)

T = LeaseTimings(lease_duration=10, renew_deadline=7, retry_period=2)
AT = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
HELD = LeaseRecord("other", 10, "2026-12-01T11:00:00.000000Z", "2026-12-01T11:59:59.000000Z", 3)


def test_no_lease_is_created_and_a_free_one_taken() -> None:
    assert next_move("me", observe(None, None, 0), T, 0) is Move.CREATE
    free = released(HELD, AT)
    assert next_move("me", observe(None, free, 0), T, 0) is Move.TAKE


def test_a_held_lease_is_taken_only_after_it_stayed_unchanged_for_its_duration() -> None:
    seen = observe(None, HELD, now=100.0)
    assert next_move("me", seen, T, 100.0) is Move.WAIT
    assert next_move("me", observe(seen, HELD, 109.9), T, 109.9) is Move.WAIT
    assert next_move("me", observe(seen, HELD, 110.0), T, 110.0) is Move.TAKE


def test_a_renewal_restarts_the_wait_whatever_the_clocks_say() -> None:
    seen = observe(None, HELD, now=100.0)
    renewed = LeaseRecord(HELD.holder, 10, HELD.acquire_time, "1970-01-01T00:00:00.000000Z", 3)
    again = observe(seen, renewed, 109.0)
    assert again.changed_at == 109.0
    assert next_move("me", again, T, 118.0) is Move.WAIT
    assert next_move("me", again, T, 119.0) is Move.TAKE


def test_the_lease_duration_written_by_the_holder_wins_over_ours() -> None:
    long = LeaseRecord("other", 60, "", "2026-12-01T11:59:59.000000Z", 0)
    seen = observe(None, long, 0.0)
    assert next_move("me", seen, T, 30.0) is Move.WAIT
    assert next_move("me", seen, T, 60.0) is Move.TAKE


def test_our_own_lease_is_renewed_keeping_its_acquire_time() -> None:
    mine = LeaseRecord("me", 10, "2026-12-01T11:00:00.000000Z", "2026-12-01T11:59:59.000000Z", 2)
    assert next_move("me", observe(None, mine, 0), T, 0) is Move.RENEW
    renewed = claimed("me", Move.RENEW, mine, T, AT)
    assert renewed.acquire_time == mine.acquire_time
    assert renewed.transitions == 2
    assert renewed.renew_time == "2026-12-01T12:00:00.123456Z"


def test_a_takeover_counts_a_transition_and_stamps_both_times() -> None:
    taken = claimed("me", Move.TAKE, HELD, T, AT)
    assert (taken.holder, taken.transitions) == ("me", 4)
    assert taken.acquire_time == taken.renew_time == "2026-12-01T12:00:00.123456Z"
    assert claimed("me", Move.CREATE, None, T, AT).transitions == 0


def test_a_leader_stops_acting_before_anyone_may_take_over() -> None:
    # The renewal was sent at 50; others wait lease_duration from when they saw it,
    # which is after it was sent: the leader's deadline comes first.
    assert leading_until(50.0, T) < 50.0 + T.lease_duration


@pytest.mark.parametrize(
    ("duration", "deadline", "period"),
    [(10, 10, 2), (10, 12, 2), (10, 7, 7), (0, 7, 2), (10, 7, -1)],
)
def test_unsafe_timings_are_refused(duration: float, deadline: float, period: float) -> None:
    assert LeaseTimings(duration, deadline, period).problem() is not None


def test_the_defaults_are_safe_and_fail_over_within_fifteen_seconds() -> None:
    defaults = LeaseTimings()
    assert defaults.problem() is None
    # Worst case: the standby saw the last renewal at once, then waits the duration
    # and at most one retry period before its next attempt.
    assert defaults.lease_duration + defaults.retry_period < 15


def test_a_lease_round_trips_through_its_spec() -> None:
    lease = {"spec": HELD.to_spec(), "metadata": {"resourceVersion": "7"}}
    assert LeaseRecord.from_lease(lease) == HELD
    assert LeaseRecord.from_lease({"spec": {"leaseTransitions": "garbage"}}) == LeaseRecord()
