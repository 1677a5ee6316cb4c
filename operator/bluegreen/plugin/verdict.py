"""When ``status --wait`` may stop, and with which exit code. Pure."""

from __future__ import annotations

import enum

from bluegreen.api.conditions import ConditionType
from bluegreen.plugin.resource import (
    FAILED_PHASES,
    Obj,
    condition_is_true,
    is_current,
    status,
)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    TIMEOUT = 2
    ERROR = 3
    """Usage, configuration or API errors: the release's state is unknown."""


class Verdict(enum.Enum):
    READY = "ready"
    FAILED = "failed"
    PENDING = "pending"


def verdict(obj: Obj) -> Verdict:
    """Same rules as the Argo CD health script and kstatus.

    A status written for an older generation is never final, whatever it says:
    right after ``kubectl apply`` it still describes the previous spec.
    """
    if not is_current(obj):
        return Verdict.PENDING
    if condition_is_true(obj, ConditionType.STALLED) or status(obj).get("phase") in FAILED_PHASES:
        return Verdict.FAILED
    if condition_is_true(obj, ConditionType.READY):
        return Verdict.READY
    return Verdict.PENDING


def exit_code(result: Verdict) -> ExitCode:
    """A pending verdict at the end means the wait timed out."""
    return {
        Verdict.READY: ExitCode.OK,
        Verdict.FAILED: ExitCode.FAILED,
        Verdict.PENDING: ExitCode.TIMEOUT,
    }[result]
