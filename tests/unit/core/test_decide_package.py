"""The decide package: its frozen view of the inputs, and files that stay small."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

import bluegreen.core.decide as decide_package
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.observed import Observed
from bluegreen.core.spec import parse_spec

from .world import T0, make_spec, revision_of

MAX_MODULE_LINES = 300
"""Each module holds one concern; one growing past this is doing two."""


def _view() -> ReleaseView:
    raw = make_spec("shop:v2")
    ctx = ReleaseContext(name="shop", namespace="shop", uid="uid-shop", generation=3)
    return ReleaseView.of(ctx, parse_spec(raw), Observed(generation=3), T0)


def test_view_derives_the_desired_revision_and_the_stamp() -> None:
    view = _view()
    assert view.desired == revision_of(make_spec("shop:v2"))
    assert view.stamp == "2026-01-01T12:00:00Z"


def test_view_is_frozen() -> None:
    view = _view()
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.desired = "other"  # type: ignore[misc]  # the assignment under test


def test_a_missing_stored_time_counts_as_now() -> None:
    view = _view()
    assert view.time("") == T0
    assert view.time("2026-01-01T12:00:30Z") == T0 + timedelta(seconds=30)
    assert view.seconds_until(T0 + timedelta(seconds=30)) == 30


def test_public_names_stay_importable() -> None:
    for name in ("decide", "build_infrastructure_inputs", "infrastructure_inputs_for"):
        assert callable(getattr(decide_package, name))


def test_no_module_outgrows_one_concern() -> None:
    package = Path(decide_package.__file__).parent
    sizes = {p.name: len(p.read_text().splitlines()) for p in package.glob("*.py")}
    assert sizes
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
