"""Traffic moves are recorded by core in the Decision; metrics count those, not Events."""

from __future__ import annotations

from bluegreen.core.decision import SwitchKind, SwitchRecord
from bluegreen.core.status import Phase

from .world import Release, http_check, make_spec


def _switches(release: Release) -> list[SwitchRecord]:
    return [s for step in release.steps for d in step.decisions for s in d.switches]


def test_each_confirmed_switch_is_recorded_once_with_its_duration() -> None:
    release = Release(make_spec("shop:v1"))
    release.run(2)
    release.spec = make_spec("shop:v2")
    release.run(2)
    confirmed = [s for s in _switches(release) if s.kind is SwitchKind.CONFIRMED]
    assert [s.revision for s in confirmed] == [
        h.revision for h in release.status.history if h.outcome == "Promoted"
    ]
    assert all(s.release_seconds is not None and s.release_seconds >= 0 for s in confirmed)


def test_a_rollback_is_recorded_with_its_reason() -> None:
    spec = {"hold": 600, "hold_checks": [http_check("live")]}
    release = Release(make_spec("shop:v1", **spec))
    release.run(2)
    v1 = release.status.revision
    release.spec = make_spec("shop:v2", **spec)
    release.step()
    assert release.status.phase == Phase.HOLDING
    release.world.annotation = "rollback"
    release.run(2)
    rollbacks = [s for s in _switches(release) if s.kind is SwitchKind.ROLLBACK]
    assert [(s.revision, s.reason) for s in rollbacks] == [(v1, "ManualRollback")]
    assert not any(
        s.kind is SwitchKind.CONFIRMED and s.revision == v1 for s in _switches(release)[1:]
    ), "confirming a rollback is not a forward release"
