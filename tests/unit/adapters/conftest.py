"""Fixtures for the adapters' unit tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def sigint_caught_as_in_the_operator() -> Iterator[None]:
    """The operator catches SIGINT (``main.py``), so the commands it starts begin with
    SIGINT at its default. Run from a shell that ignores SIGINT (a background job of
    a non-interactive shell), the tests would hand that on to their stand-in
    commands, and bash cannot trap or reset a signal ignored on entry."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
