"""The real Reconciler and Executor in the in-memory cluster: the harness itself.

Every other test of this folder runs the release through ``world.step``; these
show what that harness guarantees: the reconciler's own effects (Terraform
Events, the status write) happen, a kill lands between two effects and loses
only the unwritten status, and an effect no action asked for is caught.
"""

from __future__ import annotations

import asyncio

from bluegreen.core.status import Phase

from .world import Release, World, is_ready, make_spec, revision_of
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


def _rolling_out_v2(ready: int) -> tuple[Release, str]:
    """v1 served, v2's candidate created with ``ready`` of its 3 replicas ready."""
    release = Release(make_spec())
    release.step()
    release.spec = make_spec("shop:v2")
    candidate = revision_of(release.spec)
    release.world.ready_cap[candidate] = ready
    release.step()
    assert release.status.phase == Phase.DEPLOYING
    return release, candidate


def test_a_write_of_progress_only_gives_way_to_news_and_the_next_step_records_it() -> None:
    release, candidate = _rolling_out_v2(ready=1)
    release.world.ready_cap[candidate] = 2
    news = asyncio.Event()
    news.set()  # a watch event arrived while the write waited for a connection
    result = release.step(news=news)
    assert release.world.superseded_writes == 1
    assert not news.is_set()  # taken in by the step that followed at once
    assert result.iterations == 2  # the dropped write's step, then the one that recorded
    preview = release.status.preview
    assert preview is not None and preview.ready_replicas == 2
    assert release.world.violations == []


def test_a_step_that_acted_always_writes_its_status_whatever_the_news() -> None:
    release, candidate = _rolling_out_v2(ready=1)
    release.world.ready_cap[candidate] = 3
    news = asyncio.Event()
    news.set()
    release.step(news=news)
    # The switch acted (selector patched): its record is written, never dropped.
    assert release.world.superseded_writes == 0
    assert release.status.active is not None
    assert release.status.active.revision == candidate
    assert release.world.violations == []
