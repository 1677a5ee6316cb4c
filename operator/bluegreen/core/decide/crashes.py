"""A serving revision whose containers restart goes back while the previous one is warm.

Readiness alone misses a crash loop: between two crashes every pod may be
ready again. Container restarts do not: a revision whose pods restarted since
it became available misbehaves. Before the switch that fails the candidate
(``candidate.restarts_since_ready``); after it, while the previous revision is
still held (Switching, Holding), the stable Service goes back to it at once,
as a failed hold check would. Once the hold is over there is nothing warm to
go back to, and restarts are the Deployment's business.
"""

from __future__ import annotations

from bluegreen.api.conditions import Reason
from bluegreen.core.decide.rollback import rollback
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.status import Phase


def roll_back_restarting(view: ReleaseView, draft: Draft) -> bool:
    """Roll back a forward switch whose revision's containers restart. True when it did."""
    status = draft.status
    active, previous = status.active, status.previous
    if active is None or previous is None or previous.draining:
        return False
    if status.phase not in (Phase.SWITCHING, Phase.HOLDING):
        return False
    live = view.observed.deployments.get(active.revision)
    restarted = max(0, live.restarts - active.restarts) if live is not None else 0
    if not restarted:
        return False
    why = f"{active.deployment}: {restarted} container restarts after it became available"
    rollback(view, draft, Reason.CONTAINERS_RESTARTING, why)
    return True
