"""The typed status of a BlueGreenRelease; the models live in ``bluegreen.api``.

Kept so core modules (``decide`` among them) keep importing status from core.
"""

from __future__ import annotations

from bluegreen.api.enums import IN_FLIGHT_PHASES, Phase
from bluegreen.api.status import (
    HISTORY_LIMIT,
    ActiveRevision,
    Candidate,
    CheckStatus,
    Condition,
    HistoryEntry,
    InfrastructureStatus,
    LastAction,
    Previous,
    ReleaseStatus,
)
from bluegreen.api.status_parts import HookStatus, plain_from_dict, plain_to_dict

__all__ = [
    "HISTORY_LIMIT",
    "IN_FLIGHT_PHASES",
    "ActiveRevision",
    "Candidate",
    "CheckStatus",
    "Condition",
    "HistoryEntry",
    "HookStatus",
    "InfrastructureStatus",
    "LastAction",
    "Phase",
    "Previous",
    "ReleaseStatus",
    "plain_from_dict",
    "plain_to_dict",
]
