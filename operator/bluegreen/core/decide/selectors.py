"""Which revision each Service selects: the only place selector patches are built."""

from __future__ import annotations

from bluegreen.core.actions import PatchSelector
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft


def patch_stable(view: ReleaseView, draft: Draft, revision: str, deployment: str) -> None:
    """The traffic switch: fenced on the Service as observed, readiness re-read first."""
    stable = view.observed.stable
    draft.act(
        PatchSelector(
            view.spec.service.name,
            view.selector(revision),
            revision,
            stable=True,
            uid=stable.uid if stable else "",
            resource_version=stable.resource_version if stable else "",
            ready_deployment=deployment,
        )
    )


def point_preview(view: ReleaseView, draft: Draft) -> None:
    """The preview Service follows the desired revision, for smoke checks and people."""
    wanted = view.selector(view.desired)
    preview = view.observed.preview
    if preview is not None and preview.usable and dict(preview.selector or {}) != wanted:
        draft.act(
            PatchSelector(
                view.spec.preview_service_name,
                wanted,
                view.desired,
                stable=False,
                uid=preview.uid,
                resource_version=preview.resource_version,
            )
        )


def stable_reaches(view: ReleaseView, revision: str) -> bool:
    """The stable Service exists, is ours, selects ``revision`` and has its endpoints."""
    stable = view.observed.stable
    if stable is None or not stable.usable:
        return False
    if dict(stable.selector or {}) != view.selector(revision):
        return False
    return view.stable_endpoints(revision) > 0


def restore_selector(view: ReleaseView, draft: Draft) -> None:
    """Point the stable Service back at the active revision when it points elsewhere.

    Status is written only after the selector patch it records, so a stable
    selector other than the active revision's means the status write was lost
    (a crash right after a switch), a hand edit, or a re-created Service
    (selecting nothing). Unless this decision moves traffic anyway, restore it.
    """
    active, stable = draft.status.active, view.observed.stable
    if active is None or stable is None or not stable.usable:
        return
    if dict(stable.selector or {}) == view.selector(active.revision):
        return
    if any(isinstance(a, PatchSelector) and a.stable for a in draft.actions):
        return
    kept = view.observed.deployments.get(active.revision)
    if kept is None or not kept.fully_ready or kept.template_changed:
        message = (
            f"stable Service {stable.name} does not select the active revision "
            f"{active.revision}, which is not ready to take traffic back"
        )
        draft.stalled = ("SelectorDiverged", message)
        return
    patch_stable(view, draft, active.revision, active.deployment)
    draft.event(
        "SelectorRestored",
        f"stable Service {stable.name} pointed back at the active revision {active.revision}",
        warning=True,
    )
    draft.continue_now = True
