"""Human actions from the ``bluegreen.dev/action`` annotation: act, record, then clear.

An action is recorded in ``status.lastAction`` in the step that acts on it, and
its annotation is cleared only in a later step, once that record is stored: a
crash in between can then neither lose the action nor act on it twice.
"""

from __future__ import annotations

from dataclasses import replace

from bluegreen.core.actions import ClearActionAnnotation
from bluegreen.core.decide.action_result import ActionOutcome, ActionResult
from bluegreen.core.decide.candidate import fail_candidate
from bluegreen.core.decide.rollback import HUMAN_ROLLBACK, rollback
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft
from bluegreen.core.human_actions import (
    argument_problem,
    extended_deadline,
    hold_extension_seconds,
    parse_action,
    record_of,
)
from bluegreen.core.status import LastAction
from bluegreen.core.timefmt import format_time

_UNKNOWN_VERB = "unknown"
"""``lastAction.action`` of an annotation that names no known action."""


def human_action(view: ReleaseView, draft: Draft) -> bool:
    """Act on a new human action. True when one was consumed: this step is complete."""
    raw = view.observed.action
    if not raw or _clear_if_recorded(draft, raw):
        return False
    action = parse_action(raw)
    if action is None:
        verb, result = _UNKNOWN_VERB, ActionResult.rejected(f"unknown action {raw!r}")
    else:
        verb, result = action.verb, _apply(view, draft, action.verb, action.argument)
    _record(draft, raw, verb, result, view.stamp, view.desired)
    return True


def refuse_action(draft: Draft, raw: str | None, stamp: str, why: str) -> None:
    """Consume a human action that can't be acted on: recorded, announced, then cleared.

    An annotation left in place would be read again on every event, and a later
    fixed spec would act on an instruction given for another state.
    """
    if not raw or _clear_if_recorded(draft, raw):
        return
    action = parse_action(raw)
    verb = action.verb if action is not None else _UNKNOWN_VERB
    _record(draft, raw, verb, ActionResult.rejected(why), stamp, draft.status.revision)


def _clear_if_recorded(draft: Draft, raw: str) -> bool:
    """Clear an annotation whose action status already records. True when it did."""
    last = draft.status.last_action
    if last is None or last.raw != record_of(raw):
        return False
    draft.act(ClearActionAnnotation(raw))
    return True


def _record(
    draft: Draft, raw: str, verb: str, result: ActionResult, stamp: str, revision: str
) -> None:
    text = result.text
    draft.set(
        last_action=LastAction(
            action=verb, raw=record_of(raw), time=stamp, result=text, revision=revision
        )
    )
    draft.event(
        "ActionConsumed", f"{verb}: {text}", warning=result.outcome is ActionOutcome.REJECTED
    )
    draft.continue_now = True


def _apply(view: ReleaseView, draft: Draft, verb: str, argument: str) -> ActionResult:
    problem = argument_problem(verb, argument)
    if problem:
        return ActionResult.rejected(problem)
    status = draft.status
    if verb == "promote":
        return _promote(view, draft, argument)
    if verb == "extend-hold":
        return _extend_hold(view, draft, argument)
    # Abort with nothing in flight undoes the last switch, as a rollback would.
    if verb == "rollback" or (verb == "abort" and status.previous and not status.preview):
        return rollback(view, draft, *HUMAN_ROLLBACK)
    if verb == "abort":
        if not status.preview:
            return ActionResult.rejected("nothing in flight")
        fail_candidate(view, draft, "Aborted", "aborted by a human")
        return ActionResult.applied(f"Aborted revision {view.desired}")
    return ActionResult.rejected()


def _promote(view: ReleaseView, draft: Draft, argument: str) -> ActionResult:
    """Approve the desired revision; a named revision must be that one."""
    if argument and argument != view.desired:
        return ActionResult.rejected(f"revision {argument} is not the desired {view.desired}")
    draft.set(approved_revision=view.desired)
    return ActionResult.applied(f"Approved revision {view.desired}")


def _extend_hold(view: ReleaseView, draft: Draft, argument: str) -> ActionResult:
    previous = draft.status.previous
    if not previous or previous.draining:
        return ActionResult.rejected("no hold in progress")
    seconds = hold_extension_seconds(argument) or 0
    extended = extended_deadline(view.time(previous.delete_after), seconds, view.now)
    if extended is None:
        return ActionResult.rejected("the hold already ends at the latest allowed time")
    stamp = format_time(extended)
    draft.set(previous=replace(previous, delete_after=stamp))
    return ActionResult.applied(f"Hold extended to {stamp}")
