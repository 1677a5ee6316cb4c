"""The order a step's actions run in: checks side by side together, never across a write."""

from __future__ import annotations

from bluegreen.core import actions as act
from bluegreen.core import checks as chk
from bluegreen.core.spec import parse_spec
from bluegreen.reconciler.loop import in_order

from .world import http_check, make_spec

SPEC = parse_spec(make_spec("shop:v2", smoke=[http_check("home"), http_check("cart")]))
HOME, CART = SPEC.smoke_checks


def check(revision: str, which: act.Check = HOME) -> act.RunHttpCheck:
    return act.RunHttpCheck(which, chk.SMOKE, revision, "http://shop-preview/", run=1)


def preview_to(revision: str) -> act.PatchSelector:
    return act.PatchSelector("shop-preview", {"rev": revision}, revision, stable=False)


def test_checks_next_to_each_other_run_as_one_batch() -> None:
    home, cart = check("v2"), check("v2", CART)
    event = act.EmitEvent("Normal", "Verifying", "running smoke checks")
    assert list(in_order([event, home, cart])) == [event, [home, cart]]


def test_a_batch_never_runs_ahead_of_the_write_before_it() -> None:
    # A superseded hold's check, the preview Service moved to the candidate, then
    # the candidate's smoke checks: those must see the preview Service moved.
    held, patch, smoke, cart = check("v1"), preview_to("v2"), check("v2"), check("v2", CART)
    assert list(in_order([held, patch, smoke, cart])) == [[held], patch, [smoke, cart]]


def test_actions_without_checks_come_one_by_one_in_order() -> None:
    first, second = preview_to("v2"), preview_to("v3")
    assert list(in_order([first, second])) == [first, second]
    assert list(in_order([])) == []
