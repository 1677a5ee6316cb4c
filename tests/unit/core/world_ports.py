"""The reconciler's ports, implemented over the in-memory ``World``.

The real ``Reconciler`` and ``Executor`` drive these exactly as they drive the
API server, Terraform and the network. Each call is matched to the action of
the decision in progress that asked for it, and carried out by ``World.apply``,
which checks DESIGN.md's invariants as it goes; a call no action asked for is a
violation. Every call that changes something counts as one effect, so a test
can kill the operator between any two of them (``KilledError``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bluegreen.adapters.http_checks import HttpCheckOutcome
from bluegreen.adapters.request_slots import SupersededError
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION, REVISION_LABEL, TEMPLATE_REVISION_ANNOTATION
from bluegreen.core.actions import (
    Action,
    ApplyInfrastructure,
    CheckDrift,
    ClearActionAnnotation,
    CreateDeployment,
    CreateJob,
    DeleteDeployment,
    DeleteJob,
    DeleteJobs,
    DestroyInfrastructure,
    EmitEvent,
    PatchSelector,
    RunHttpCheck,
    RunMetricCheck,
    ScaleDeployment,
)
from bluegreen.core.decision import Decision
from bluegreen.core.infrastructure import DriftReport, InfrastructureInputs, InfrastructureOutputs
from bluegreen.core.metric_checks import MetricQuery, QueryOutcome, QueryResult
from bluegreen.core.spec import HttpCheck, ReleaseSpec
from bluegreen.core.status import ReleaseStatus

if TYPE_CHECKING:
    from .world import World

JSON = dict[str, Any]


class KilledError(Exception):
    """The operator was killed here: nothing after this point of the step happens."""


@dataclass
class LoopInProgress:
    """One decision being carried out: what the invariants judge each effect against."""

    spec: ReleaseSpec | None
    stored: ReleaseStatus
    decision: Decision
    now: datetime
    index: int
    done: set[int] = field(default_factory=set)
    effects: int = 0


def merge(document: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies one."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(document) if isinstance(document, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


class Effects:
    """What the ports share: the world, the loop in progress, the crash point."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.crash_at: tuple[int, int] | None = None
        self.loop: LoopInProgress | None = None

    def effect(self) -> None:
        """Count one effect of the loop in progress; die first if this is the crash point."""
        loop = self.loop
        if loop is None:
            return
        if self.crash_at == (loop.index, loop.effects):
            raise KilledError(f"killed before effect {loop.effects} of loop {loop.index}")
        loop.effects += 1

    def status_write(self) -> None:
        """Dying in a loop at any effect after its actions means dying before its write."""
        loop = self.loop
        if loop is not None and self.crash_at is not None and self.crash_at[0] == loop.index:
            raise KilledError(f"killed before the status write of loop {loop.index}")

    def match(self, kind: type[Any], wanted: Callable[[Any], bool], describe: str) -> Any:
        """The action of the decision in progress this call carries out, marked done."""
        loop = self.loop
        if loop is not None:
            for index, action in enumerate(loop.decision.actions):
                if index not in loop.done and isinstance(action, kind) and wanted(action):
                    loop.done.add(index)
                    return action
        self.world.violations.append(f"the executor {describe}, which no action asked for")
        return None

    def carry_out(self, action: Action | None) -> Any:
        if action is None or self.loop is None:
            return None
        loop = self.loop
        return self.world.apply(action, loop.spec, loop.decision, loop.now, loop.stored)


class WorldReleases:
    def __init__(self, effects: Effects) -> None:
        self.effects, self.world = effects, effects.world

    async def get(self, namespace: str, name: str) -> JSON | None:
        return self.world.release_body()

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str = "",
        unless: asyncio.Event | None = None,
    ) -> str:
        self.effects.status_write()
        return self.world.write_status(status)

    async def patch_status_as_read(
        self,
        body: Mapping[str, Any],
        patch: Mapping[str, Any],
        attempts: int,
        unless: asyncio.Event | None = None,
    ) -> str:
        if unless is not None and unless.is_set():
            # As when every connection is busy: the news comes before the write is sent.
            self.world.superseded_writes += 1
            raise SupersededError
        self.effects.status_write()
        return self.world.write_status(patch)

    async def clear_action(self, namespace: str, name: str, raw: str) -> None:
        self.effects.effect()
        loop = self.effects.loop
        action = next(
            (
                a
                for i, a in enumerate(loop.decision.actions if loop else ())
                if isinstance(a, ClearActionAnnotation) and a.raw == raw and i not in loop.done
            ),
            None,
        )
        if action is not None and loop is not None:
            loop.done.add(loop.decision.actions.index(action))
            self.effects.carry_out(action)
        elif self.world.annotation == raw:
            self.world.annotation = None  # a value too long to store verbatim


class WorldDeployments:
    def __init__(self, effects: Effects) -> None:
        self.effects, self.world = effects, effects.world

    async def list_for_release(self, namespace: str, release: str) -> list[JSON]:
        return [self.world.deployment_json(d.name) or {} for d in self.world.deployments.values()]

    async def get(self, namespace: str, name: str) -> JSON | None:
        return self.world.deployment_json(name)

    async def live(self, namespace: str, name: str) -> JSON | None:
        return self.world.deployment_json(name)

    async def create(self, manifest: Mapping[str, Any]) -> None:
        self.effects.effect()
        action = self.effects.match(
            CreateDeployment, lambda a: a.manifest == manifest, "created a Deployment"
        )
        self.effects.carry_out(action)

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        self.effects.effect()
        action = self.effects.match(
            ScaleDeployment,
            lambda a: a.name == name and a.replicas == replicas,
            f"scaled {name} to {replicas}",
        )
        self.effects.carry_out(action)

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool:
        self.effects.effect()
        action = self.effects.match(
            DeleteDeployment,
            lambda a: (a.name, a.uid, a.resource_version) == (name, uid, resource_version),
            f"deleted {name}",
        )
        self.effects.carry_out(action)
        return action is not None


class WorldServices:
    def __init__(self, effects: Effects) -> None:
        self.effects, self.world = effects, effects.world

    async def list(self, namespace: str) -> list[JSON]:
        return [
            {"metadata": {"name": s.name}, "spec": {"selector": dict(s.selector or {})}}
            for s in self.world.services.values()
        ]

    async def set_selector(
        self,
        namespace: str,
        name: str,
        selector: Mapping[str, str],
        *,
        uid: str = "",
        resource_version: str = "",
    ) -> None:
        self.effects.effect()
        action = self.effects.match(
            PatchSelector,
            lambda a: a.service == name and dict(a.selector) == dict(selector),
            f"patched the selector of {name}",
        )
        self.effects.carry_out(action)

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool:
        self.effects.effect()
        self.world.violations.append(f"a step deleted Service {name}")
        return False


class WorldJobs:
    def __init__(self, effects: Effects) -> None:
        self.effects, self.world = effects, effects.world

    async def list_for_release(self, namespace: str, release: str) -> list[JSON]:
        # Only DeleteJobs lists Jobs while acting: the world carries it out whole, here.
        self.effects.effect()
        action = self.effects.match(DeleteJobs, lambda _: True, "listed Jobs")
        self.effects.carry_out(action)
        return []

    async def create(self, manifest: Mapping[str, Any]) -> None:
        self.effects.effect()
        action = self.effects.match(CreateJob, lambda a: a.manifest == manifest, "created a Job")
        self.effects.carry_out(action)

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool:
        self.effects.effect()
        action = self.effects.match(
            DeleteJob,
            lambda a: (a.name, a.uid, a.resource_version) == (name, uid, resource_version),
            f"deleted Job {name}",
        )
        self.effects.carry_out(action)
        return action is not None


class WorldEvents:
    def __init__(self, effects: Effects) -> None:
        self.effects, self.world = effects, effects.world

    async def post(
        self, release: Mapping[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        self.effects.effect()
        loop = self.effects.loop
        asked = [
            i
            for i, a in enumerate(loop.decision.actions if loop else ())
            if isinstance(a, EmitEvent)
            and (a.type, a.reason, a.message) == (event_type, reason, message)
            and loop is not None
            and i not in loop.done
        ]
        if asked and loop is not None:
            loop.done.add(asked[0])
            self.effects.carry_out(loop.decision.actions[asked[0]])
        else:
            # The executor's own: the outcome of a Terraform run or drift check.
            self.world.events.append(EmitEvent(event_type, reason, message))


class WorldKube:
    """``KubePort`` over the world."""

    def __init__(self, effects: Effects) -> None:
        self.releases = WorldReleases(effects)
        self.deployments = WorldDeployments(effects)
        self.services = WorldServices(effects)
        self.jobs = WorldJobs(effects)
        self.events = WorldEvents(effects)


class WorldObserver:
    """``ObservePort``: the world's own snapshot of the release."""

    def __init__(self, effects: Effects) -> None:
        self.world = effects.world

    async def observe(self, body: Mapping[str, Any]) -> Any:
        return self.world.observe()


class WorldInfrastructure:
    """``InfrastructurePort``: Services as Terraform would leave them."""

    def __init__(self, effects: Effects) -> None:
        self.effects, self.world = effects, effects.world

    @property
    def module_checksum(self) -> str:
        return self.world.module_checksum

    async def apply(self, inputs: InfrastructureInputs) -> InfrastructureOutputs:
        self.effects.effect()
        action = self.effects.match(
            ApplyInfrastructure, lambda a: a.inputs == inputs, "applied infrastructure"
        )
        outputs = self.effects.carry_out(action)
        assert isinstance(outputs, InfrastructureOutputs)
        return outputs

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        self.effects.effect()
        action = self.effects.match(CheckDrift, lambda a: a.inputs == inputs, "planned")
        report = self.effects.carry_out(action)
        assert isinstance(report, DriftReport)
        return report

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        self.effects.effect()
        action = self.effects.match(
            DestroyInfrastructure, lambda a: a.inputs == inputs, "destroyed infrastructure"
        )
        self.effects.carry_out(action)


class WorldChecks:
    """``CheckPort``: a URL reaches the revision whose ready pods its Service selects."""

    def __init__(self, effects: Effects) -> None:
        self.effects = effects

    async def run_all(self, checks: Sequence[tuple[HttpCheck, str]]) -> list[HttpCheckOutcome]:
        self.effects.effect()
        outcomes = []
        for http, url in checks:
            action = self.effects.match(
                RunHttpCheck,
                lambda a, http=http, url=url: a.check.http == http and a.url == url,
                f"checked {url}",
            )
            outcome = self.effects.carry_out(action)
            assert isinstance(outcome, HttpCheckOutcome)
            outcomes.append(outcome)
        return outcomes


class WorldPrometheus:
    """``MetricQueryPort``: each query is answered for the revision it was rendered for,
    from ``world.metric_values``; a call is matched to the metric check that asked it."""

    def __init__(self, effects: Effects) -> None:
        self.effects = effects

    async def query_all(self, queries: Sequence[MetricQuery]) -> list[QueryResult]:
        self.effects.effect()
        answers: list[QueryResult] = []
        rest = list(queries)
        while rest:
            first, after = rest[0], rest[1:2]
            action = self.effects.match(
                RunMetricCheck,
                lambda a, q=first, b=after: (
                    a.query == q and (a.baseline is None or [a.baseline] == b)
                ),
                f"queried {first.promql}",
            )
            if action is None:
                answers.append(QueryResult(QueryOutcome.UNREACHABLE, message="not asked"))
                rest = rest[1:]
                continue
            found = self.effects.carry_out(action)
            assert isinstance(found, list)
            answers.extend(found)
            rest = rest[len(found) :]
        return answers


def release_annotations(annotation: str | None) -> dict[str, str]:
    return {ACTION_ANNOTATION: annotation} if annotation is not None else {}


def deployment_document(
    name: str,
    revision: str,
    controller_uid: str,
    *,
    replicas: int,
    ready: int,
    deleting: bool,
    template_changed: bool,
    uid: str,
) -> JSON:
    """A Deployment as the API server returns it, reduced to what the executor reads."""
    meta: JSON = {
        "name": name,
        "uid": uid,
        "labels": {REVISION_LABEL: revision},
        "annotations": {TEMPLATE_REVISION_ANNOTATION: "2" if template_changed else "1"},
        "ownerReferences": [{"controller": True, "uid": controller_uid}],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"replicas": replicas}, "status": {"readyReplicas": ready}}
