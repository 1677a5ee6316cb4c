"""What one decide() call looks at: its inputs, frozen, beside the Draft it builds.

The steps read two things: this view, which never changes during a decision,
and ``draft.status``, the status as the steps before them left it. Keeping the
two apart makes plain which reads can see an earlier step's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bluegreen.core import names
from bluegreen.core.context import ReleaseContext
from bluegreen.core.observed import Observed
from bluegreen.core.revision import compute_revision
from bluegreen.core.spec import ReleaseSpec
from bluegreen.core.timefmt import format_time, parse_time


@dataclass(frozen=True)
class ReleaseView:
    """The inputs of one decision about a release whose spec parsed."""

    ctx: ReleaseContext
    spec: ReleaseSpec
    observed: Observed
    now: datetime
    desired: str
    """The revision the spec asks for."""
    stamp: str
    """``now`` as status records times."""

    @staticmethod
    def of(
        ctx: ReleaseContext, spec: ReleaseSpec, observed: Observed, now: datetime
    ) -> ReleaseView:
        return ReleaseView(
            ctx=ctx,
            spec=spec,
            observed=observed,
            now=now,
            desired=compute_revision(spec.template),
            stamp=format_time(now),
        )

    def selector(self, revision: str) -> dict[str, str]:
        """The selector of this release's pods of ``revision``."""
        return names.revision_selector(self.ctx.name, revision)

    def stable_endpoints(self, revision: str) -> int:
        """Ready endpoints of ``revision`` behind the stable Service."""
        return self.observed.stable_endpoints.get(revision, 0)

    def time(self, stamp: str) -> datetime:
        """The moment a stored time names; now when none is stored, so it counts as due."""
        return parse_time(stamp) or self.now

    def seconds_until(self, moment: datetime) -> float:
        return (moment - self.now).total_seconds()
