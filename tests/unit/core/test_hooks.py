"""Migration hooks in whole releases, through the real reconciler over the in-memory world.

The world runs hook Jobs (succeeding unless ``hook_outcomes`` says otherwise)
and checks, as each Job is created and each selector moves: no switch before
every preSwitch hook of the revision succeeded, a hook never runs again once it
succeeded for its revision, a contract hook only once the previous revision's
Deployment is gone and only while its own revision serves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bluegreen.core.actions import CreateJob, PatchSelector
from bluegreen.core.conditions import TRUE, ConditionType
from bluegreen.core.status import HookStatus, Phase, ReleaseStatus

from .world import Release, condition, http_check, is_ready, is_stalled, make_spec, revision_of

HOLD = 60


def hook(name: str, **fields: Any) -> dict[str, Any]:
    pod = {"spec": {"containers": [{"name": "migrate", "image": "migrate:1"}]}}
    return {"name": name, "template": {"template": pod}, **fields}


def with_hooks(image: str, hold_checks: list[dict[str, Any]] | None = None, **hooks: Any) -> Any:
    spec = make_spec(image, hold=HOLD, hold_checks=hold_checks or [], hold_interval=5)
    spec["hooks"] = hooks
    return spec


EXPAND_CONTRACT = {
    "preSwitch": [hook("expand")],
    "postSwitch": [hook("backfill")],
    "postCleanup": [hook("contract")],
}


def v1_serving(**hooks: Any) -> Release:
    release = Release(with_hooks("shop:v1", **hooks))
    release.run(3, every=1)
    assert release.status.phase == Phase.COMPLETE
    return release


def line(status: ReleaseStatus, point: str, name: str, revision: str) -> HookStatus:
    (found,) = [h for h in status.hooks if (h.point, h.name, h.revision) == (point, name, revision)]
    return found


def hook_jobs(release: Release, revision: str) -> list[tuple[str, str]]:
    return [(p, h) for p, h, r in release.world.hook_jobs if r == revision]


def finish_hold(release: Release) -> None:
    for _ in range(HOLD // 5 + 6):
        release.advance(5)


def test_expand_switch_hold_contract_in_that_order() -> None:
    release = v1_serving(**EXPAND_CONTRACT)
    v1 = revision_of(release.spec)
    assert hook_jobs(release, v1) == [("preSwitch", "expand")], "a first release expands only"
    release.spec = with_hooks("shop:v2", **EXPAND_CONTRACT)
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.phase == Phase.VERIFYING  # the expand Job runs
    assert hook_jobs(release, v2) == [("preSwitch", "expand")]
    release.advance(1)
    assert release.status.phase == Phase.HOLDING
    assert hook_jobs(release, v2) == [("preSwitch", "expand"), ("postSwitch", "backfill")]
    # The expand Job was created, and succeeded, before the stable Service moved.
    applied = [a.action for a in release.world.applied]
    expand = next(i for i, a in enumerate(applied) if isinstance(a, CreateJob) and a.revision == v2)
    switch = next(
        i
        for i, a in enumerate(applied)
        if isinstance(a, PatchSelector) and a.stable and a.revision == v2
    )
    assert expand < switch
    created = next(
        a.manifest
        for a in applied
        if isinstance(a, CreateJob) and a.stage == "preSwitch" and a.revision == v2
    )
    container = created["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "BLUEGREEN_RELEASE": "shop",
        "BLUEGREEN_NAMESPACE": "shop",
        "BLUEGREEN_REVISION": v2,
        "BLUEGREEN_PREVIOUS_REVISION": v1,
        "BLUEGREEN_HOOK": "preSwitch",
    }
    assert created["spec"]["backoffLimit"] == 2 and created["spec"]["activeDeadlineSeconds"] == 600
    assert "bluegreen.dev/revision" not in created["spec"]["template"]["metadata"]["labels"]
    finish_hold(release)
    assert hook_jobs(release, v2)[-1] == ("postCleanup", "contract")
    contract = line(release.status, "postCleanup", "contract", v2)
    assert (contract.phase, contract.previous_revision) == ("Succeeded", v1)
    assert release.status.phase == Phase.COMPLETE and is_ready(release.status)
    assert condition(release.status, ConditionType.DEGRADED) == "False"
    assert release.world.violations == []


def test_a_failed_expand_keeps_traffic_and_stalls_with_the_jobs_reason() -> None:
    release = v1_serving(**EXPAND_CONTRACT)
    v1 = release.world.stable_revision()
    release.spec = with_hooks("shop:v2", **EXPAND_CONTRACT)
    v2 = revision_of(release.spec)
    release.world.hook_outcomes[("expand", v2)] = False
    release.step()
    release.advance(1)
    status = release.status
    assert status.phase == Phase.FAILED and is_stalled(status)
    stalled = status.condition(ConditionType.STALLED)
    assert stalled is not None and stalled.reason == "HookFailed"
    assert "preSwitch hook expand failed" in stalled.message
    assert "BackoffLimitExceeded" in stalled.message
    assert release.world.stable_revision() == v1
    assert hook_jobs(release, v2) == [("preSwitch", "expand")]
    assert "HookFailed" in release.reasons()
    assert release.world.violations == []


def test_hooks_run_one_at_a_time_in_order_and_once_per_revision() -> None:
    hooks = {"preSwitch": [hook("first"), hook("second")]}
    release = v1_serving()
    release.spec = with_hooks("shop:v2", **hooks)
    v2 = revision_of(release.spec)
    release.world.auto_jobs = False
    release.step()
    assert hook_jobs(release, v2) == [("preSwitch", "first")]
    release.world.hook_outcomes[("second", v2)] = False
    release.world.finish_jobs()
    release.advance(1)
    release.world.finish_jobs()
    release.advance(1)
    assert release.status.phase == Phase.FAILED
    assert hook_jobs(release, v2) == [("preSwitch", "first"), ("preSwitch", "second")]
    # v3, then back to v2: a new attempt reruns the failed hook only, as a new Job.
    release.world.auto_jobs = True
    release.world.hook_outcomes.clear()
    release.spec = with_hooks("shop:v3", **hooks)
    release.advance(1)
    release.spec = with_hooks("shop:v2", **hooks)
    release.advance(1)
    release.advance(1)
    assert release.status.active is not None and release.status.active.revision == v2
    assert hook_jobs(release, v2) == [
        ("preSwitch", "first"),
        ("preSwitch", "second"),
        ("preSwitch", "second"),
    ]
    second = line(release.status, "preSwitch", "second", v2)
    assert (second.phase, second.attempt) == ("Succeeded", 2)
    assert second.job.endswith("-preswitch-second-2")
    assert release.world.violations == []


def test_a_failed_contract_marks_degraded_and_leaves_traffic() -> None:
    release = v1_serving(**EXPAND_CONTRACT)
    release.spec = with_hooks("shop:v2", **EXPAND_CONTRACT)
    v2 = revision_of(release.spec)
    release.world.hook_outcomes[("contract", v2)] = False
    release.step()
    finish_hold(release)
    status = release.status
    assert line(status, "postCleanup", "contract", v2).phase == "Failed"
    assert status.phase == Phase.COMPLETE and is_ready(status)
    degraded = status.condition(ConditionType.DEGRADED)
    assert degraded is not None and degraded.status == TRUE
    assert degraded.reason == "HookFailed" and "postCleanup hook contract" in degraded.message
    assert release.world.stable_revision() == v2
    assert release.world.violations == []


def test_a_rollback_during_the_hold_never_contracts() -> None:
    release = v1_serving(**EXPAND_CONTRACT)
    v1 = release.world.stable_revision()
    release.spec = with_hooks("shop:v2", [http_check("live")], **EXPAND_CONTRACT)
    v2 = revision_of(release.spec)
    release.world.http_outcomes[("live", v2)] = False
    release.step()
    release.advance(5)
    assert release.status.phase == Phase.ROLLED_BACK
    assert release.world.stable_revision() == v1
    finish_hold(release)
    assert ("postCleanup", "contract") not in hook_jobs(release, v2)
    assert ("postCleanup", "contract") not in hook_jobs(release, v1 or "")
    assert release.world.violations == []


def crash_after_the_hook_job(base: Callable[[], Release], revision: str) -> Release:
    """A release from ``base()`` whose operator was killed right after it created the
    hook's Job, before the status write that would have recorded it."""
    for loop in range(10):
        for effect in range(8):
            release = base()
            result = release.step(crash_at=(loop, effect))
            lines = [h for h in release.status.hooks if h.revision == revision]
            if result.crashed and hook_jobs(release, revision) and not lines:
                return release
    raise AssertionError("no crash point between the Job's creation and its record")


def test_a_hook_job_created_before_a_crash_is_followed_not_started_again() -> None:
    def base() -> Release:
        release = v1_serving()
        release.spec = with_hooks("shop:v2", preSwitch=[hook("expand")])
        release.world.auto_jobs = False
        return release

    v2 = revision_of(with_hooks("shop:v2"))
    release = crash_after_the_hook_job(base, v2)
    assert hook_jobs(release, v2) == [("preSwitch", "expand")]
    release.step()
    running = line(release.status, "preSwitch", "expand", v2)
    assert running.phase == "Running" and running.message == "job running"
    release.world.auto_jobs = True
    release.advance(1)
    assert release.status.active is not None and release.status.active.revision == v2
    assert hook_jobs(release, v2) == [("preSwitch", "expand")]
    assert release.world.violations == []


def test_a_job_that_never_finishes_fails_its_hook_at_the_deadline() -> None:
    release = v1_serving()
    release.spec = with_hooks("shop:v2", preSwitch=[hook("expand", timeoutSeconds=30)])
    release.world.auto_jobs = False
    release.step()
    release.advance(60)
    assert release.status.phase == Phase.VERIFYING
    release.advance(31)
    assert release.status.phase == Phase.FAILED
    assert "gave no result within 30s" in release.status.message
