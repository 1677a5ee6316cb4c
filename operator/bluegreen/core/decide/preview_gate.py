"""Smoke checks through the preview Service wait until it reaches the candidate alone.

The selector is moved in one step, but EndpointSlices and kube-proxy follow it
only later: a check sent in the step that moves it, or just after, can reach the
revision it pointed at before and credit the candidate with that one's answers.
"""

from __future__ import annotations

from datetime import timedelta

from bluegreen.core import checks as chk
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.status import Phase

PREVIEW_SETTLING = "waiting for the preview Service to reach the candidate alone"
"""The message while smoke checks wait for the preview's EndpointSlices to follow it."""


def preview_unsettled(view: ReleaseView, draft: Draft) -> str:
    """Why smoke checks through the preview Service would not reach the desired
    revision's pods alone; empty when they would (or when none goes through it).

    Such checks start only once the preview's selector is observed on the
    candidate and its EndpointSlices list ready pods of the candidate alone.
    Checks that name their URL, and metric checks, do not go through it.
    """
    through = tuple(
        c for c in view.spec.smoke_checks if c.metric is None and not (c.http and c.http.url)
    )
    if not through or chk.summary(through, draft.status.checks, chk.SMOKE, view.desired) in (
        chk.PASSED,
        chk.FAILED,
    ):
        return ""
    preview = view.observed.preview
    if preview is None or not preview.usable:
        return ""  # nothing of ours to wait for: the checks report what they reach
    if dict(preview.selector or {}) != view.selector(view.desired):
        return f"its selector is not yet on {view.desired}"
    endpoints = view.observed.preview_endpoints
    ready = endpoints.get(view.desired, 0)
    others = sum(n for rev, n in endpoints.items() if rev != view.desired)
    others += view.observed.preview_unknown_endpoints
    if ready and not others:
        return ""
    return f"EndpointSlices: {ready} ready endpoints of {view.desired}, {others} others"


def await_preview(view: ReleaseView, draft: Draft, unsettled: str) -> str:
    """Hold the smoke checks until the preview reaches the candidate alone, for as
    long as a switch may take to show in the EndpointSlices. Past that, returns
    why the candidate fails (traffic stays where it is) rather than wait without
    end, as for pods of another owner that carry the candidate's labels."""
    candidate = draft.status.preview
    since = view.time(candidate.ready_at) if candidate and candidate.ready_at else view.now
    deadline = since + timedelta(seconds=view.ctx.switch_timeout_seconds)
    if view.now >= deadline:
        return (
            f"the preview Service did not reach {view.desired} alone within "
            f"{view.ctx.switch_timeout_seconds:.0f}s ({unsettled}); no smoke check ran"
        )
    draft.set(phase=Phase.VERIFYING, message=PREVIEW_SETTLING)
    draft.progress = ("Verifying", PREVIEW_SETTLING)
    draft.wake_in(min(view.ctx.switch_confirm_requeue_seconds, view.seconds_until(deadline)))
    return ""
