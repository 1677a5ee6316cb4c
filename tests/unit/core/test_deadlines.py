"""The deadline of the phase a release is in, read from its status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bluegreen.api.status import Candidate, Previous, ReleaseStatus
from bluegreen.core.deadlines import phase_deadline

PREVIEW = Candidate(
    "77aa", "shop-77aa", "shop:v2", 3, "2026-11-26T12:10:00Z", "2026-11-26T12:00:00Z"
)
PREVIOUS = Previous("91ab", "shop-91ab", "shop:v1", "2026-11-26T13:00:00Z")
TEN_PAST = datetime(2026, 11, 26, 12, 10, tzinfo=UTC)
ONE = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ReleaseStatus(phase="Deploying", preview=PREVIEW), TEN_PAST),
        (ReleaseStatus(phase="Holding", previous=PREVIOUS), ONE),
        # A candidate whose readiness is behind it has no readiness deadline any more.
        (ReleaseStatus(phase="Verifying", preview=PREVIEW), None),
        (ReleaseStatus(phase="AwaitingPromotion", preview=PREVIEW), None),
        (ReleaseStatus(phase="Complete", previous=PREVIOUS), None),
        (ReleaseStatus(phase="Deploying"), None),
        (ReleaseStatus(phase="Holding", previous=Previous("a", "d", "i", "garbage")), None),
    ],
    ids=["deploying", "holding", "verifying", "awaiting", "complete", "no-preview", "malformed"],
)  # fmt: skip
def test_phase_deadline(status: ReleaseStatus, expected: datetime | None) -> None:
    assert phase_deadline(status) == expected
