"""Property tests: random histories of a release must never break DESIGN.md's invariants.

A history mixes observations (pods becoming ready or unready, EndpointSlices
lagging, Jobs finishing), spec changes (v1, v2, v3, back again), human actions,
clock advances, and reconciles that run normally, stop part-way (a restart:
the written status survives) or crash between carrying out actions and
writing the status. After the chaos the world settles (everything becomes
ready, every check passes) and a bounded number of reconciles must converge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bluegreen.core.actions import PatchSelector
from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decision import Decision
from bluegreen.core.status import Phase, ReleaseStatus

from .world import (
    T0,
    World,
    http_check,
    is_ready,
    is_stalled,
    job_check,
    later,
    make_spec,
    metric_check,
    revision_of,
    step,
)

IMAGES = ("shop:v1", "shop:v2", "shop:v3")
REPLICAS = 2
HOLD = 120
READINESS_TIMEOUT = 300
SWITCH_TIMEOUT = ReleaseContext(name="", namespace="", uid="", generation=0).switch_timeout_seconds
KSTATUS = (ConditionType.READY, ConditionType.RECONCILING, ConditionType.STALLED)


def spec_for(image: str, auto: bool, jobs: bool) -> dict[str, Any]:
    smoke = [http_check("home"), metric_check("kpi", max=0.5)]
    smoke += [job_check("e2e")] if jobs else []
    errors = metric_check("errors", maxIncrease=0.1, consecutiveFailures=2)
    spec = make_spec(
        image,
        replicas=REPLICAS,
        hold=HOLD,
        smoke=smoke,
        hold_checks=[http_check("live"), errors],
        hold_interval=30,
        auto=auto,
        readiness_timeout=READINESS_TIMEOUT,
    )
    spec["hooks"] = {point: [_hook(name)] for point, name in HOOKS}
    return spec


HOOKS = (("preSwitch", "expand"), ("postSwitch", "backfill"), ("postCleanup", "contract"))


def _hook(name: str) -> dict[str, Any]:
    pod = {"spec": {"containers": [{"name": "migrate", "image": "migrate:1"}]}}
    return {"name": name, "template": {"template": pod}, "timeoutSeconds": 120}


REVISIONS = [revision_of(spec_for(image, True, True)) for image in IMAGES]


# ---------------------------------------------------------------------------- the checks


def check_decision(
    world: World, raw_spec: Any, before: ReleaseStatus, decision: Decision, now: datetime
) -> None:
    """Run on every decide() result, before its actions are carried out."""
    status = decision.status
    values = {kind: status.condition(kind) for kind in KSTATUS}
    if any(v is None for v in values.values()):
        world.violations.append(f"missing kstatus conditions: {values}")
        return
    ready, reconciling, stalled = (values[k].status for k in KSTATUS)  # type: ignore[union-attr]
    if ready == TRUE and TRUE in (reconciling, stalled):
        world.violations.append(f"Ready with Reconciling={reconciling} Stalled={stalled}")
    if reconciling == TRUE and stalled == TRUE:
        world.violations.append("Reconciling and Stalled together")
    if status.observed_generation != world.generation:
        world.violations.append("status.observedGeneration not stamped")
    if any(c.observed_generation != world.generation for c in status.conditions):
        world.violations.append("a condition's observedGeneration is stale")
    desired = revision_of(raw_spec) if "template" in raw_spec else None
    if ready == TRUE and (
        status.phase != Phase.COMPLETE
        or status.active is None
        or status.active.revision != desired
        or status.revision != desired
    ):
        world.violations.append(f"Ready while phase {status.phase}, active {status.active}")
    check_switches(world, raw_spec, before, decision, desired)
    for old in before.conditions:
        new = status.condition(old.type)
        if new is not None and new.status == old.status:
            if new.last_transition_time != old.last_transition_time:
                world.violations.append(f"{old.type} lastTransitionTime moved without a flip")
        elif new is not None and new.last_transition_time != _stamp(now):
            world.violations.append(f"{old.type} flipped without a fresh lastTransitionTime")


def check_switches(
    world: World, raw_spec: Any, before: ReleaseStatus, decision: Decision, desired: str | None
) -> None:
    """A forward switch goes to the desired revision only, and past the gate only approved."""
    gated = not raw_spec.get("promotion", {}).get("auto", True)
    held = {r.revision for r in (before.active, before.previous) if r}
    for action in decision.actions:
        if not isinstance(action, PatchSelector) or not action.stable or action.revision in held:
            continue
        if gated and decision.status.approved_revision != action.revision:
            world.violations.append(f"switched to {action.revision} without approval")
        if action.revision != desired:
            world.violations.append(f"switched to {action.revision}, not the desired {desired}")


def _stamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_world(world: World, status: ReleaseStatus) -> None:
    """Run after every reconcile, on the world as it is left."""
    stable = world.stable()
    if world.ever_served and (stable is None or not stable.selector):
        world.violations.append("the stable Service selects nothing after it served")
    selected = world.stable_revision()
    if selected is not None:
        dep = world.deployments.get(selected)
        if dep is None or dep.deleting:
            world.violations.append(f"the stable Service selects deleted revision {selected}")
    if is_ready(status) and (status.active is None or selected != status.active.revision):
        world.violations.append(f"Ready but the stable Service selects {selected}")


# ---------------------------------------------------------------------------- histories

revision_index = st.integers(0, 2)
ops = st.one_of(
    st.tuples(st.just("spec"), revision_index),
    st.tuples(st.just("step")),
    st.tuples(st.just("clock"), st.sampled_from([1, 5, 30, 61])),
    st.tuples(st.just("spec"), revision_index),
    st.tuples(st.just("ready"), revision_index, st.integers(0, REPLICAS)),
    st.tuples(st.just("ready_all")),
    st.tuples(st.just("lag"), st.booleans()),
    st.tuples(st.just("jobs")),
    st.tuples(
        st.just("fail"),
        st.sampled_from(["smoke", "job", "hold", "stuck", "kpi", "errors", "expand", "contract"]),
        revision_index,
    ),
    st.tuples(st.just("prometheus"), st.sampled_from(["unreachable", "rejected", None])),
    st.tuples(st.just("heal"), revision_index),
    st.tuples(
        st.just("human"),
        st.sampled_from(
            ["promote", "promote:desired", "promote:other", "abort", "rollback", "extend-hold:60"]
        ),
        st.booleans(),
    ),
    st.tuples(st.just("human_junk")),
    st.tuples(st.just("infra"), st.booleans()),
    st.tuples(st.just("clock"), st.sampled_from([1, 5, 30, 61, 120, 301])),
    st.tuples(st.just("step")),
    st.tuples(st.just("step")),
    st.tuples(st.just("step")),
    st.tuples(st.just("restart"), st.integers(1, 3)),
    st.tuples(st.just("crash"), st.integers(0, 3), st.integers(0, 6)),
)

step_op = st.tuples(st.just("step"))
crash_op = st.tuples(st.just("crash"), st.integers(0, 3), st.integers(0, 6))
# Releases of a live service, weighted towards progress so holds, rollbacks and
# superseding happen often.
rollout_ops = st.one_of(
    step_op,
    step_op,
    step_op,
    st.tuples(st.just("clock"), st.sampled_from([1, 10, 30, 61])),
    st.tuples(st.just("clock"), st.sampled_from([1, 10, 30, 61])),
    st.tuples(st.just("spec"), st.integers(1, 2)),
    st.tuples(st.just("spec"), revision_index),
    st.tuples(st.just("spec"), revision_index),
    st.tuples(st.just("human"), st.just("promote"), st.just(True)),
    crash_op,
    crash_op,
    st.tuples(
        st.just("fail"),
        st.sampled_from(["smoke", "job", "hold", "errors", "expand", "backfill", "contract"]),
        revision_index,
    ),
    st.tuples(st.just("heal"), revision_index),
    st.tuples(st.just("ready"), revision_index, st.integers(0, REPLICAS)),
    st.tuples(st.just("lag"), st.booleans()),
    st.tuples(st.just("prometheus"), st.sampled_from(["unreachable", None])),
    st.tuples(
        st.just("human"),
        st.sampled_from(["promote", "abort", "rollback", "extend-hold:60"]),
        st.booleans(),
    ),
    st.tuples(st.just("restart"), st.integers(1, 3)),
)


@dataclass
class Run:
    auto: bool
    jobs: bool
    world: World = field(default_factory=World)
    image: int = 0
    status: ReleaseStatus = field(default_factory=ReleaseStatus)
    now: datetime = T0
    tainted: bool = False
    """The desired revision may legitimately have failed (injected failure, human, timeout)."""
    lag_clock: float = 0
    """Seconds the EndpointSlices have lagged behind the selector without a break."""
    attempt_clock: float = 0
    nonce: int = 0
    log: list[str] = field(default_factory=list)
    stored: tuple[str, bool, float, datetime] = ("", False, 0.0, T0)
    """(status.revision, tainted, attempt_clock, now) as of the last status write."""

    @property
    def spec(self) -> dict[str, Any]:
        return spec_for(IMAGES[self.image], self.auto, self.jobs)

    @property
    def desired(self) -> str:
        return REVISIONS[self.image]

    def reconcile(self, **kwargs: Any) -> None:
        result = step(self.world, self.spec, self.status, self.now, check=check_decision, **kwargs)
        bounded = result.crashed or "max_loops" in kwargs
        if not bounded and result.iterations >= 40 and result.last.continue_now:
            self.world.violations.append("the reconcile loop did not settle in 40 rounds")
        self.status = result.status
        check_world(self.world, self.status)
        if self.status.revision == self.desired:
            self.stored = (self.desired, self.tainted, self.attempt_clock, self.now)

    def flagged(self, revision: str) -> bool:
        w = self.world
        return (
            w.http_outcomes.get(("home", revision)) is False
            or w.http_outcomes.get(("live", revision)) is False
            or w.job_outcomes.get(("e2e", revision)) is False
            or (("kpi", revision) in w.metric_values)
            or (("errors", revision) in w.metric_values)
            or w.hook_outcomes.get(("expand", revision)) is False
            or w.prometheus_answer is not None
            or revision in w.ready_cap
        )

    def apply(self, op: tuple[Any, ...], wake: bool = False) -> None:
        """Carry out one op; ``wake``: the change wakes a reconcile (a watch event)."""
        self.log.append(repr(op) + (" +reconcile" if wake else ""))
        getattr(self, f"op_{op[0]}")(*op[1:])
        if wake and op[0] not in ("step", "restart", "crash"):
            self.reconcile()

    # -- the world changes

    def op_spec(self, index: int) -> None:
        if index != self.image:
            self.image = index
            pending = (self.world.annotation or "").startswith(("abort", "rollback"))
            self.tainted = self.flagged(self.desired) or pending
            self.attempt_clock = 0
            revision, tainted, clock, at = self.stored
            if revision == self.desired:
                # The operator never saw the spec leave this revision: same attempt.
                self.tainted = self.tainted or tainted
                self.attempt_clock = clock + (self.now - at).total_seconds()

    def op_ready(self, index: int, ready: int) -> None:
        """At most ``ready`` pods of a revision are ready from now on (REPLICAS: no limit)."""
        revision = REVISIONS[index]
        if ready >= REPLICAS:
            self.world.ready_cap.pop(revision, None)
        else:
            self.world.ready_cap[revision] = ready
            self.tainted = True  # pods going down may fail checks of the desired revision
        dep = self.world.deployments.get(revision)
        if dep is not None:
            dep.ready = min(dep.ready, ready)

    def op_ready_all(self) -> None:
        self.world.settle_pods()

    def op_lag(self, lag: bool) -> None:
        self.world.endpoints_lag = lag
        if not lag:
            self.lag_clock = 0

    def op_jobs(self) -> None:
        self.world.finish_jobs()

    def op_fail(self, kind: str, index: int) -> None:
        w, revision = self.world, REVISIONS[index]
        if kind == "smoke":
            w.http_outcomes[("home", revision)] = False
        elif kind == "job":
            w.job_outcomes[("e2e", revision)] = False
        elif kind == "hold":
            w.http_outcomes[("live", revision)] = False
        elif kind in ("kpi", "errors"):
            w.metric_values[(kind, revision)] = 1.0
        elif kind in ("expand", "backfill", "contract"):
            w.hook_outcomes[(kind, revision)] = False
        else:
            w.ready_cap[revision] = 0
            dep = w.deployments.get(revision)
            if dep is not None:
                dep.ready = 0
            self.tainted = True  # pods of any revision going down may fail the desired one
        self.tainted = self.tainted or self.flagged(self.desired)

    def op_prometheus(self, answer: str | None) -> None:
        """Prometheus stops answering, or rejects every query, or is back (None)."""
        self.world.prometheus_answer = answer
        if answer is not None:
            self.tainted = True  # a metric check may wait past its deadline, or fail

    def op_heal(self, index: int) -> None:
        w, revision = self.world, REVISIONS[index]
        for table in (w.http_outcomes, w.job_outcomes, w.metric_values, w.hook_outcomes):
            for key in [k for k in table if k[1] == revision]:
                del table[key]
        w.ready_cap.pop(revision, None)

    def op_human(self, verb: str, fresh: bool) -> None:
        if verb == "promote:desired":
            verb = f"promote:{self.desired}"
        elif verb == "promote:other":
            verb = "promote:0000000000"
        if fresh:
            self.nonce += 1
            verb = f"{verb}@{self.nonce}"
        self.world.annotation = verb
        if verb.startswith(("abort", "rollback")):
            self.tainted = True

    def op_human_junk(self) -> None:
        self.world.annotation = "reboot-everything"

    def op_infra(self, failing: bool) -> None:
        self.world.infra_failure = "apply failed" if failing else None

    def op_clock(self, seconds: int) -> None:
        self.now = later(self.now, seconds)
        self.attempt_clock += seconds
        if self.attempt_clock >= READINESS_TIMEOUT:
            self.tainted = True
        if self.world.endpoints_lag:
            self.lag_clock += seconds
            if self.lag_clock >= SWITCH_TIMEOUT:
                self.tainted = True  # a switch EndpointSlices never confirm is undone

    # -- the operator runs

    def op_step(self) -> None:
        self.reconcile()

    def op_restart(self, loops: int) -> None:
        self.reconcile(max_loops=loops)

    def op_crash(self, loop: int, actions: int) -> None:
        self.reconcile(crash_at=(loop, actions))

    def settle(self) -> None:
        """Stop the chaos: everything becomes ready, every check passes, nothing lags."""
        w = self.world
        w.auto_ready = w.auto_jobs = True
        w.ready_cap.clear()
        w.http_outcomes.clear()
        w.job_outcomes.clear()
        w.metric_values.clear()
        w.hook_outcomes.clear()
        w.prometheus_answer = None
        w.endpoints_lag = False
        w.infra_failure = None
        w.settle_pods()
        w.finish_jobs()
        for _ in range(40):
            if self.status.phase == Phase.AWAITING_PROMOTION and w.annotation is None:
                self.nonce += 1
                w.annotation = f"promote:{self.desired}@settle-{self.nonce}"
            self.reconcile()
            if self.finished():
                return
            wait = 1.0
            if self.status.previous is not None:
                wait = 30.0
            if self.status.infrastructure.failed_inputs_hash:
                wait = 61.0
            self.now = later(self.now, wait)

    def finished(self) -> bool:
        status = self.status
        collected = {j.revision for j in self.world.jobs.values()} <= {self.desired}
        if status.phase == Phase.COMPLETE and is_ready(status) and status.previous is None:
            # A hook Job is collected a decision after its result was recorded.
            return collected
        return (
            status.phase in (Phase.FAILED, Phase.ROLLED_BACK)
            and is_stalled(status)
            and status.failed_revision == self.desired
            and status.previous is None
        )


def assert_converged(run: Run) -> None:
    w, status = run.world, run.status
    history = "\n".join(run.log)
    assert w.violations == [], history
    assert run.finished(), f"{status.phase}: {status.message}\n{history}"
    if status.phase == Phase.COMPLETE:
        assert status.active is not None and status.active.revision == run.desired
        assert w.stable_revision() == run.desired
        assert w.deployments[run.desired].ready == REPLICAS
        assert condition_status(status, ConditionType.SERVING) == TRUE
        # Everything else was garbage-collected.
        assert {r for r, d in w.deployments.items() if not d.deleting} == {run.desired}, history
        assert {j.revision for j in w.jobs.values()} <= {run.desired}, history
    else:
        assert run.tainted, f"{run.desired} failed without cause: {status.message}\n{history}"
        assert not is_ready(status)
        assert condition_status(status, ConditionType.RECONCILING) == FALSE
        if status.active is not None:
            assert w.stable_revision() == status.active.revision
            live = {r for r, d in w.deployments.items() if not d.deleting}
            assert run.desired not in live or status.active.revision == run.desired, history


def condition_status(status: ReleaseStatus, kind: str) -> str | None:
    cond = status.condition(kind)
    return cond.status if cond else None


PROFILE = settings(
    # BLUEGREEN_PROPERTY_EXAMPLES=5000 for a deep run; the default keeps the unit tier fast.
    max_examples=int(os.environ.get("BLUEGREEN_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROFILE
@given(
    history=st.lists(st.tuples(ops, st.booleans()), min_size=3, max_size=40),
    auto=st.booleans(),
    jobs=st.booleans(),
    live=st.booleans(),
    cooperative=st.booleans(),
)
def test_random_histories_keep_invariants_and_converge(
    history: list[tuple[tuple[Any, ...], bool]],
    auto: bool,
    jobs: bool,
    live: bool,
    cooperative: bool,
) -> None:
    """``live``: v1 already serves; ``cooperative``: pods and Jobs finish by themselves."""
    run = Run(auto=auto, jobs=jobs)
    if live:
        run.settle()
        assert run.status.phase == Phase.COMPLETE
    run.world.auto_ready = cooperative
    run.world.auto_jobs = cooperative
    for op, wake in history:
        run.apply(op, wake)
        assert run.world.violations == [], "\n".join(run.log)
    run.settle()
    assert_converged(run)


@PROFILE
@given(
    history=st.lists(
        st.one_of(
            st.tuples(st.just("spec"), revision_index),
            st.tuples(st.just("clock"), st.sampled_from([1, 30, 61])),
            st.tuples(st.just("crash"), st.integers(0, 4), st.integers(0, 8)),
            st.tuples(st.just("restart"), st.integers(1, 2)),
            st.tuples(st.just("lag"), st.booleans()),
        ),
        max_size=25,
    ),
)
def test_crashes_alone_never_change_the_outcome(history: list[tuple[Any, ...]]) -> None:
    """In a healthy world, crashes and restarts alone always end with the spec's revision live.

    A regression example: lag past the switch timeout undoes the switch, a cause of its own.
    """
    run = Run(auto=True, jobs=True)
    for op in history:
        run.apply(op)
        assert run.world.violations == [], "\n".join(run.log)
    run.settle()
    # Lag alone can legitimately undo a switch: EndpointSlices that never confirm it
    # within the switch timeout roll it back (``tainted``). Crashes never may.
    assert run.status.phase == Phase.COMPLETE or run.tainted, "\n".join(run.log)
    assert_converged(run)


SUPERSEDED_HOLD = [
    (("step",), False),
    (("human", "promote", True), False),
    (("spec", 2), True),
    (("human", "promote", True), False),
    (("restart", 3), False),
    (("spec", 1), False),
    (("crash", 0, 3), False),
    (("step",), False),
]
"""A regression example: a spec change during a hold, the first try crashed part-way.
The retry's one decision runs the held revision's hold checks, moves the preview
Service to the candidate, then its smoke checks; batched all at the first check,
the smoke checks ran before the move and passed on the held revision."""


@PROFILE
@given(
    history=st.lists(st.tuples(rollout_ops, st.booleans()), min_size=10, max_size=40),
    auto=st.booleans(),
    jobs=st.booleans(),
    drain=st.sampled_from([0, 10]),
)
@example(history=SUPERSEDED_HOLD, auto=False, jobs=False, drain=0)
def test_rollouts_of_a_live_service_keep_invariants_and_converge(
    history: list[tuple[tuple[Any, ...], bool]], auto: bool, jobs: bool, drain: int
) -> None:
    run = Run(auto=auto, jobs=jobs)
    run.world.drain_seconds = drain
    run.settle()
    assert run.status.phase == Phase.COMPLETE
    for op, wake in history:
        run.apply(op, wake)
        assert run.world.violations == [], "\n".join(run.log)
    run.settle()
    assert_converged(run)
