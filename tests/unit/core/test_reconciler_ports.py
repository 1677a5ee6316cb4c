"""The real Reconciler and Executor in the in-memory cluster: the harness itself.

Every other test of this folder runs the release through ``world.step``; these
show what that harness guarantees: the reconciler's own effects (Terraform
Events, the status write) happen, a kill lands between two effects and loses
only the unwritten status, and an effect no action asked for is caught.
"""

from __future__ import annotations

import asyncio

from bluegreen.core.status import Phase

from .world import Release, World, is_ready, make_spec
from .world_ports import Effects, WorldKube


def test_the_executor_posts_its_own_infrastructure_events() -> None:
    release = Release(make_spec())
    release.step()
    assert is_ready(release.status)
    # decide() never asks for these: the Executor posts them after a Terraform run.
    assert "TerraformApplied" in release.reasons()


def test_a_kill_before_the_first_effect_writes_nothing_and_the_next_run_completes() -> None:
    release = Release(make_spec())
    untouched = release.status.to_dict()
    killed = release.step(crash_at=(0, 0))
    assert killed.crashed
    assert release.status.to_dict() == untouched
    assert release.world.applied == []  # died before its first effect
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert release.world.violations == []


def test_a_kill_mid_loop_keeps_the_effects_and_loses_the_status_write() -> None:
    release = Release(make_spec())
    release.step()
    release.spec = make_spec("shop:v2")
    before = release.status.to_dict()
    killed = release.step(crash_at=(0, 1))
    assert killed.crashed
    assert len(release.world.applied) > 0
    assert release.status.to_dict() == before  # the loop's status never reached the API
    release.step()
    assert release.status.phase == Phase.COMPLETE
    assert release.status.active is not None
    assert release.world.violations == []


def test_an_effect_no_action_asked_for_is_a_violation() -> None:
    world = World()
    kube = WorldKube(Effects(world))
    asyncio.run(kube.services.set_selector("shop", "shop", {"app": "other"}))
    assert world.violations == [
        "the executor patched the selector of shop, which no action asked for"
    ]
