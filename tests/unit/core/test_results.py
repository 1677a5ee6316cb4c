"""Folding action results back into status."""

from __future__ import annotations


def test_drift_event_only_when_drift_newly_appears() -> None:
    from dataclasses import replace

    from bluegreen.core.infrastructure import DriftReport
    from bluegreen.core.results import drift_event
    from bluegreen.core.status import InfrastructureStatus, ReleaseStatus

    clean = ReleaseStatus()
    drifted = replace(clean, infrastructure=InfrastructureStatus(drift=True))
    report = DriftReport(drifted=True, summary="Service shop")
    assert drift_event(clean, report) == ("InfrastructureDrifted", "Service shop")
    assert drift_event(drifted, report) is None
    assert drift_event(clean, DriftReport(drifted=False)) is None
