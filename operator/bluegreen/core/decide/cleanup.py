"""Deleting Deployments and Jobs of revisions that no longer serve or wait.

EndpointSlices are the proof that nothing needs a revision any more: a revision
still reached keeps its pods, whatever status says.
"""

from __future__ import annotations

from bluegreen.core import checks as chk
from bluegreen.core.actions import DeleteDeployment, DeleteJobs
from bluegreen.core.decide import hook_lifecycle
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft


def delete_unselected(
    view: ReleaseView,
    draft: Draft,
    revision: str,
    deployment: str,
    uid: str = "",
    guard: bool = True,
) -> None:
    """Delete a revision's Deployment unless it is active, held, selected or reached.

    ``guard`` False skips the active/held protection, for a hold being retired.
    """
    status = draft.status
    protected = {r.revision for r in (status.active, status.previous) if r}
    stable = view.observed.stable
    selector = stable.selector if stable else None
    if guard and revision in protected:
        return
    if selector == view.selector(revision):
        return
    if view.stable_endpoints(revision) > 0:
        draft.wake_in(view.ctx.switch_confirm_requeue_seconds)
        return
    queued = any(isinstance(a, DeleteDeployment) and a.revision == revision for a in draft.actions)
    live = view.observed.deployments.get(revision)
    if live is not None and not queued:
        draft.act(DeleteDeployment(deployment, revision, uid or live.uid, live.resource_version))


def delete_strays(view: ReleaseView, draft: Draft, records_of: str = "") -> None:
    """Deployments of this release that no status block accounts for (e.g. a crash).

    ``records_of`` names a revision whose check results and Jobs stay (a failed
    revision keeps them for whoever investigates), though its Deployment goes.
    """
    status = draft.status
    keep = {r.revision for r in (status.active, status.previous, status.preview) if r}
    for revision, deployment in view.observed.deployments.items():
        if revision not in keep and not deployment.deleting:
            delete_unselected(view, draft, revision, deployment.name)
    keep_records = keep | ({records_of} if records_of else set())
    # A hook's Job is never deleted before its result is read: a migration whose
    # outcome is unknown would run again if its revision came back.
    unread = hook_lifecycle.read_unfollowed(view, draft, keep_records)
    if any(job.revision not in keep_records | unread for job in view.observed.jobs.values()):
        draft.act(DeleteJobs(frozenset(keep_records | unread)))
    draft.set(checks=chk.keep_revisions(draft.status.checks, keep_records))
