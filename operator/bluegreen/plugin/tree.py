"""``kubectl bluegreen status`` as a tree: release -> revisions -> Deployments -> pods,
with each revision's checks, migration hooks (``status.hooks``) and their Jobs.

Pure: builds rich renderables from a ``View`` and ``now``; whoever prints them
decides on colour. Styles are semantic (good, bad, waiting), so a plain console
loses nothing but the colour.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from rich.text import Text
from rich.tree import Tree

from bluegreen.api.conditions import ConditionStatus, ConditionType
from bluegreen.api.enums import FAILED_PHASES, SUSPENDED_PHASE, CheckPhase, Phase
from bluegreen.api.v1alpha1 import CHECK_LABEL, CHECK_REVISION_LABEL, REVISION_LABEL
from bluegreen.plugin.client import View
from bluegreen.plugin.render import (
    NONE,
    age,
    ago,
    deadline_countdown,
    hold_countdown,
    replicas,
)
from bluegreen.plugin.resource import (
    Obj,
    generation,
    integer,
    mapping,
    mappings,
    observed_generation,
    status,
    text,
)

GOOD: Final = "green"
BAD: Final = "bold red"
WAITING: Final = "yellow"
MOVING: Final = "cyan"
DIM: Final = "dim"
TITLE: Final = "bold"

READY_MARK: Final = "✔"
NOT_READY_MARK: Final = "✖"
PENDING_MARK: Final = "◌"


def phase_style(phase: str) -> str:
    if phase == Phase.COMPLETE:
        return GOOD
    if phase in FAILED_PHASES:
        return BAD
    if phase == SUSPENDED_PHASE:
        return WAITING
    return MOVING


def _line(*parts: tuple[str, str] | str) -> Text:
    """Parts joined by two spaces; a part is text, or (text, style)."""
    line = Text()
    for i, part in enumerate(p for p in parts if p and (not isinstance(p, tuple) or p[0])):
        if i:
            line.append("  ")
        if isinstance(part, tuple):
            line.append(part[0], style=part[1])
        else:
            line.append(part)
    return line


def _labels(obj: Obj) -> Obj:
    return mapping(mapping(obj.get("metadata")).get("labels"))


def _name(obj: Obj) -> str:
    return text(mapping(obj.get("metadata")).get("name"), NONE)


def _created(obj: Obj) -> object:
    return mapping(obj.get("metadata")).get("creationTimestamp")


# --- pods, Deployments, Jobs -------------------------------------------------------


def pod_line(pod: Obj, now: datetime) -> Text:
    state = mapping(pod.get("status"))
    ready = any(
        c.get("type") == "Ready" and c.get("status") == ConditionStatus.TRUE
        for c in mappings(state.get("conditions"))
    )
    containers = mappings(state.get("containerStatuses"))
    restarts = sum(integer(c.get("restartCount")) or 0 for c in containers)
    waiting = next(
        (
            text(mapping(mapping(c.get("state")).get("waiting")).get("reason"))
            for c in containers
            if mapping(mapping(c.get("state")).get("waiting")).get("reason")
        ),
        "",
    )
    phase = text(state.get("phase"), "Unknown")
    if mapping(pod.get("metadata")).get("deletionTimestamp"):
        phase = "Terminating"
    mark = (READY_MARK, GOOD) if ready else (NOT_READY_MARK, BAD if restarts else WAITING)
    return _line(
        mark,
        ("Pod", DIM),
        _name(pod),
        ("Ready" if ready else "NotReady", GOOD if ready else WAITING),
        waiting or phase,
        (f"{restarts} restarts", BAD) if restarts else "",
        ("age " + age(_created(pod), now), DIM),
        (text(mapping(pod.get("spec")).get("nodeName")), DIM),
    )


def deployment_line(deployment: Obj, now: datetime) -> Text:
    spec, state = mapping(deployment.get("spec")), mapping(deployment.get("status"))
    desired = integer(spec.get("replicas"))
    ready = integer(state.get("readyReplicas")) or 0
    updated = integer(state.get("updatedReplicas")) or 0
    available = integer(state.get("availableReplicas")) or 0
    complete = desired is not None and ready == desired and available == desired
    return _line(
        ("Deployment", DIM),
        _name(deployment),
        (f"{ready}/{text(desired, '?')} ready", GOOD if complete else WAITING),
        f"{updated} updated",
        f"{available} available",
        ("age " + age(_created(deployment), now), DIM),
    )


def job_outcome(job: Obj) -> tuple[str, str]:
    state = mapping(job.get("status"))
    conditions = {c.get("type"): c.get("status") for c in mappings(state.get("conditions"))}
    if conditions.get("Complete") == ConditionStatus.TRUE:
        return "Succeeded", GOOD
    if conditions.get("Failed") == ConditionStatus.TRUE:
        return "Failed", BAD
    return f"Running ({integer(state.get('active')) or 0} active)", MOVING


def job_line(job: Obj, now: datetime) -> Text:
    check = text(_labels(job).get(CHECK_LABEL))
    return _line(
        ("Job", DIM),
        _name(job),
        f"for check {check}" if check else "",
        job_outcome(job),
        ("age " + age(_created(job), now), DIM),
    )


def hook_line(hook: Obj, job: Obj | None, now: datetime) -> Text:
    """A migration hook of ``status.hooks``, with what its Job says when we can see it."""
    phase = text(hook.get("phase"), NONE)
    style = {"Succeeded": GOOD, "Failed": BAD, "Running": MOVING}.get(phase, WAITING)
    mark = {"Succeeded": READY_MARK, "Failed": NOT_READY_MARK}.get(phase, PENDING_MARK)
    attempt = integer(hook.get("attempt")) or 1
    return _line(
        (mark, style),
        ("hook", DIM),
        text(hook.get("name"), NONE),
        text(hook.get("point")),
        (phase, style),
        f"attempt {attempt}" if attempt > 1 else "",
        f"Job {text(hook.get('job'))}" if hook.get("job") else "",
        ("(Job: " + job_outcome(job)[0] + ")", DIM) if job is not None else "",
        (ago(hook.get("finishedAt") or hook.get("startedAt"), now), DIM),
        text(hook.get("message")),
    )


# --- checks ----------------------------------------------------------------------


def check_line(check: Obj, now: datetime) -> Text:
    phase = text(check.get("phase"), NONE)
    styles: dict[str, str] = {
        CheckPhase.PASSED: GOOD,
        CheckPhase.FAILED: BAD,
        CheckPhase.RUNNING: MOVING,
    }
    style = styles.get(phase, WAITING)
    marks: dict[str, str] = {CheckPhase.PASSED: READY_MARK, CheckPhase.FAILED: NOT_READY_MARK}
    mark = marks.get(phase, PENDING_MARK)
    attempts = integer(check.get("attempts")) or 0
    value = text(check.get("value"))
    return _line(
        (mark, style),
        ("check", DIM),
        text(check.get("name"), NONE),
        f"{text(check.get('stage'), NONE)}/{text(check.get('kind'), NONE)}",
        (phase, style),
        f"{attempts} attempt{'' if attempts == 1 else 's'}",
        f"value {value}" if value else "",
        (ago(check.get("time"), now), DIM),
        text(check.get("message")),
    )


# --- revisions ---------------------------------------------------------------------


def _revision_of(obj: Obj) -> str:
    labels = _labels(obj)
    return text(labels.get(REVISION_LABEL) or labels.get(CHECK_REVISION_LABEL))


def _sorted(objs: Iterable[Obj]) -> list[Obj]:
    return sorted(objs, key=lambda o: (text(_created(o)), _name(o)))


def _revision_header(role: str, block: Obj, now: datetime) -> Text:
    revision = text(block.get("revision"), NONE)
    extra: list[tuple[str, str] | str] = [text(block.get("image"))]
    if role == "active":
        extra += [f"{replicas(block)} ready", f"switched {ago(block.get('switchedAt'), now)}"]
    elif role == "preview":
        extra += [f"{replicas(block)} ready", f"deadline {deadline_countdown(block, now)}"]
    elif role == "previous":
        extra += [(hold_countdown(block, now), WAITING)]
    style = {"active": GOOD, "preview": MOVING, "previous": WAITING}.get(role, DIM)
    return _line((role, f"bold {style}"), (revision, TITLE), *extra)


def _revision_branch(
    tree: Tree,
    header: Text,
    revision: str,
    view: View,
    now: datetime,
) -> None:
    """One revision: its Deployment and pods, then its checks, hooks and their Jobs."""
    branch = tree.add(header)
    state = status(view.release)
    checks = [c for c in mappings(state.get("checks")) if text(c.get("revision")) == revision]
    hooks = [h for h in mappings(state.get("hooks")) if text(h.get("revision")) == revision]
    deployments: list[Obj] = []
    jobs: list[Obj] = []
    if revision:
        deployments = _sorted(d for d in view.deployments if _revision_of(d) == revision)
        jobs = _sorted(j for j in view.jobs if _revision_of(j) == revision)
    for deployment in deployments:
        node = branch.add(deployment_line(deployment, now))
        for pod in _sorted(p for p in view.pods if _pod_of_revision(p, revision)):
            node.add(pod_line(pod, now))
    for check in checks:
        branch.add(check_line(check, now))
    hook_jobs = {text(h.get("job")) for h in hooks if h.get("job")}
    by_name = {_name(j): j for j in jobs}
    for hook in hooks:
        branch.add(hook_line(hook, by_name.get(text(hook.get("job"))), now))
    for job in jobs:
        if _name(job) not in hook_jobs:
            branch.add(job_line(job, now))


def _pod_of_revision(pod: Obj, revision: str) -> bool:
    # Check pods carry CHECK_REVISION_LABEL instead: they belong to their Job, not here.
    return text(_labels(pod).get(REVISION_LABEL)) == revision


# --- the page ----------------------------------------------------------------------


def _header(obj: Obj) -> Text:
    meta = mapping(obj.get("metadata"))
    state = status(obj)
    phase = text(state.get("phase"), "Unknown")
    observed, current = observed_generation(obj), generation(obj)
    stale = observed != current
    return _line(
        ("BlueGreenRelease", DIM),
        (f"{text(meta.get('namespace'), NONE)}/{text(meta.get('name'), NONE)}", TITLE),
        (phase, f"bold {phase_style(phase)}"),
        f"revision {text(state.get('revision'), NONE)}",
        (f"approved {text(state.get('approvedRevision'))}", WAITING)
        if state.get("approvedRevision")
        else "",
        (
            f"generation {text(current, '?')} (observed {text(observed, 'none')})",
            WAITING if stale else DIM,
        ),
        ("status is stale: the operator has not caught up with the spec", WAITING) if stale else "",
    )


def _conditions(tree: Tree, obj: Obj, now: datetime) -> None:
    conditions = mappings(status(obj).get("conditions"))
    if not conditions:
        return
    branch = tree.add(Text("Conditions", style=TITLE))
    for c in conditions:
        kind, value = text(c.get("type"), NONE), text(c.get("status"), NONE)
        branch.add(
            _line(
                (kind, TITLE),
                (value, condition_style(kind, value)),
                text(c.get("reason")),
                (age(c.get("lastTransitionTime"), now), DIM),
                text(c.get("message")),
            )
        )


def condition_style(kind: str, value: str) -> str:
    """Stalled=True is the bad news, InfrastructureDrifted=True a warning, Reconciling=True
    news in motion; otherwise True is good and False a wait."""
    if value not in (ConditionStatus.TRUE, ConditionStatus.FALSE):
        return DIM
    true = value == ConditionStatus.TRUE
    if kind == ConditionType.STALLED:
        return BAD if true else DIM
    if kind == ConditionType.INFRASTRUCTURE_DRIFTED:
        return WAITING if true else DIM
    if kind == ConditionType.RECONCILING:
        return MOVING if true else DIM
    return GOOD if true else WAITING


def _infrastructure(obj: Obj, now: datetime) -> Text | None:
    infra = mapping(status(obj).get("infrastructure"))
    if not infra:
        return None
    applied = bool(infra.get("applied"))
    return _line(
        ("Infrastructure", TITLE),
        ("applied" if applied else "not applied", GOOD if applied else WAITING),
        f"inputs {text(infra.get('inputsHash'))[:12]}" if infra.get("inputsHash") else "",
        f"last apply {ago(infra.get('lastApplyTime'), now)}" if infra.get("lastApplyTime") else "",
        ("drift detected", BAD) if infra.get("drift") else "",
        (f"last error: {text(infra.get('message'))}", BAD) if infra.get("message") else "",
    )


def _last_action(obj: Obj, now: datetime) -> Text | None:
    action = mapping(status(obj).get("lastAction"))
    if not action:
        return None
    result = text(action.get("result"), NONE)
    return _line(
        ("Last action", TITLE),
        f"{text(action.get('action'), NONE)} {text(action.get('revision'))}".strip(),
        ("-> " + result, BAD if result.startswith("Rejected") else DIM),
        (ago(action.get("time"), now), DIM),
    )


def build_tree(view: View, now: datetime) -> Tree:
    """The whole ``status`` page as one tree."""
    obj = view.release
    state = status(obj)
    tree = Tree(_header(obj), guide_style=DIM)
    if state.get("message"):
        tree.add(Text(text(state.get("message")), style="italic"))
    checks = mappings(state.get("checks"))
    shown: set[str] = set()
    for role in ("active", "preview", "previous"):
        block = mapping(state.get(role))
        revision = text(block.get("revision"))
        if not revision or revision in shown:
            continue
        shown.add(revision)
        _revision_branch(tree, _revision_header(role, block, now), revision, view, now)
    # Deployments no status block names: a superseded candidate being removed, say.
    others = sorted({_revision_of(d) for d in view.deployments} - shown - {""})
    for revision in others:
        header = _line(("revision", f"bold {DIM}"), (revision, TITLE))
        _revision_branch(tree, header, revision, view, now)
        shown.add(revision)
    # Checks and hooks of revisions with no Deployment any more: a failed candidate's, say.
    failed = text(state.get("failedRevision"))
    leftovers = [*checks, *mappings(state.get("hooks"))]
    for revision in dict.fromkeys(text(item.get("revision")) for item in leftovers):
        if revision in shown:
            continue
        if not revision:
            header = Text("Checks and hooks", style=TITLE)
        elif revision == failed:
            header = _line(("failed", BAD), (revision, TITLE))
        else:
            header = _line(("revision", f"bold {DIM}"), (revision, TITLE))
        _revision_branch(tree, header, revision, view, now)
    _conditions(tree, obj, now)
    for extra in (_infrastructure(obj, now), _last_action(obj, now)):
        if extra is not None:
            tree.add(extra)
    for problem in view.problems:
        tree.add(Text(f"cannot show {problem}", style=WAITING))
    return tree
