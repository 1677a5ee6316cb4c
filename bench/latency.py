"""Operator overhead per release: reaction times measured from watch events.

A few releases with no smoke checks, automatic promotion and no hold run
sequential template changes v_i -> v_i+1. Per change:

- ``spec_to_candidate``: the release's watch event of the new generation ->
  the candidate Deployment's ADDED event (the operator noticed and created it);
- ``available_to_switch``: the first Deployment event showing the candidate
  Available -> the first Service event showing the stable selector on it. With
  no checks and no gate, everything in between is the operator's own work;
- for context, ``candidate_rollout`` (ADDED -> Available: the cluster's work),
  ``switch_to_ready`` (selector -> Ready=True: EndpointSlice confirmation,
  deletion of the previous Deployment, status) and ``spec_to_ready``.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from tests.integration.harness import Kubectl, release

from bench.cluster import (
    Recorder,
    Seen,
    deployment_available,
    release_ready,
)
from bench.operator_process import start_operator, stop_operator
from bench.stats import summary
from bluegreen.api.v1alpha1 import GROUP, PLURAL, RELEASE_LABEL, REVISION_LABEL, VERSION

TARGETS_MS = {
    "available_to_switch": {"p50": 100.0, "p99": 500.0},
    "spec_to_candidate": {"p99": 500.0},
}


@dataclass(frozen=True)
class Change:
    release: str
    version: str
    generation: int
    sent: float
    """time.monotonic() just before the patch request"""


def release_body(name: str, version: str, namespace: str, replicas: int) -> dict[str, Any]:
    body = release(name, version, "", "", replicas=replicas, hold=0, smoke=[], auto=True)
    body["metadata"]["namespace"] = namespace
    return body


def run(
    env: dict[str, str],
    api: client.ApiClient,
    out: Path,
    *,
    changes: int,
    releases: int,
    replicas: int,
    traced: bool = False,
) -> dict[str, Any]:
    k = Kubectl(env)
    namespace = f"bench-lat-{uuid.uuid4().hex[:6]}"
    k.run("create", "namespace", namespace)
    recorder = Recorder(api, namespace)
    recorder.start()
    label = "latency-traced" if traced else "latency"
    trace = out / f"{label}-trace.jsonl"
    trace.unlink(missing_ok=True)
    operator = start_operator(
        env, namespace, out / f"operator-{label}.log", trace if traced else None
    )
    custom = client.CustomObjectsApi(api)
    names = [f"lat-{i}" for i in range(releases)]
    done: list[Change] = []
    try:
        for name in names:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, release_body(name, "v0", namespace, replicas)
            )
        for name in names:
            recorder.wait(f"{name} Ready", functools.partial(_ready, recorder, name), timeout=120)
        for i in range(changes):
            name, version = names[i % releases], f"v{i // releases + 1}"
            template = release_body(name, version, namespace, replicas)["spec"]["template"]
            sent = time.monotonic()
            patched = custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, {"spec": {"template": template}}
            )
            generation = int(patched["metadata"]["generation"])  # type: ignore[index]
            done.append(Change(name, version, generation, sent))
            recorder.wait(
                f"{name} {version} Ready",
                functools.partial(_ready, recorder, name, generation),
                timeout=120,
            )
    finally:
        events = recorder.snapshot()
        stop_operator(operator, k, namespace)
        recorder.stop()
    rows = [analyse(change, events) for change in done]
    (out / f"{label}-events.json").write_text(
        json.dumps([_event_row(e) for e in events], indent=None)
    )
    result: dict[str, Any] = {
        "namespace": namespace,
        "releases": releases,
        "replicas": replicas,
        "changes": len(rows),
        "traced": traced,
        "per_change": rows,
        "summary_ms": {
            key: summary([r[key] for r in rows if r.get(key) is not None])
            for key in (
                "spec_to_candidate",
                "available_to_switch",
                "candidate_rollout",
                "switch_to_ready",
                "spec_to_ready",
                "patch_to_spec_event",
            )
        },
        "targets_ms": TARGETS_MS,
    }
    if traced:
        from bench.breakdown import breakdown

        result["breakdown"] = breakdown(rows, trace)
    return result


def _ready(recorder: Recorder, name: str, generation: int | None = None) -> bool:
    obj = recorder.current("release", name)
    return obj is not None and release_ready(obj, generation)


def _first(events: list[Seen], after: float, test: Any) -> Seen | None:
    return next((e for e in events if e.mono >= after and test(e)), None)


def analyse(change: Change, events: list[Seen]) -> dict[str, Any]:
    """Timestamps of one change, from the watch events recorded in this process."""
    name = change.release
    spec_event = _first(
        events,
        change.sent,
        lambda e: (
            e.kind == "release"
            and e.name == name
            and int(e.obj["metadata"].get("generation") or 0) == change.generation
        ),
    )
    added = _first(
        events,
        change.sent,
        lambda e: (
            e.kind == "deployment"
            and e.type == "ADDED"
            and (e.obj["metadata"].get("labels") or {}).get(RELEASE_LABEL) == name
        ),
    )
    row: dict[str, Any] = {
        "release": name,
        "version": change.version,
        "generation": change.generation,
    }
    if spec_event is None or added is None:
        row["error"] = "missing spec event or candidate ADDED event"
        return row
    revision = added.obj["metadata"]["labels"][REVISION_LABEL]
    available = _first(
        events,
        added.mono,
        lambda e: e.kind == "deployment" and e.name == added.name and deployment_available(e.obj),
    )
    switched = _first(
        events,
        added.mono,
        lambda e: (
            e.kind == "service"
            and e.name == name
            and ((e.obj.get("spec") or {}).get("selector") or {}).get(REVISION_LABEL) == revision
        ),
    )
    ready = _first(
        events,
        added.mono,
        lambda e: (
            e.kind == "release" and e.name == name and release_ready(e.obj, change.generation)
        ),
    )
    row.update(
        revision=revision,
        deployment=added.name,
        t_sent=change.sent,
        t_spec=spec_event.mono,
        t_added=added.mono,
        t_available=available.mono if available else None,
        t_switched=switched.mono if switched else None,
        t_ready=ready.mono if ready else None,
        wall_spec=spec_event.wall,
        patch_to_spec_event=spec_event.mono - change.sent,
        spec_to_candidate=added.mono - spec_event.mono,
    )
    if available:
        row["candidate_rollout"] = available.mono - added.mono
    if available and switched:
        row["available_to_switch"] = switched.mono - available.mono
    if switched and ready:
        row["switch_to_ready"] = ready.mono - switched.mono
    if ready:
        row["spec_to_ready"] = ready.mono - spec_event.mono
    return row


def _event_row(e: Seen) -> dict[str, Any]:
    meta = e.obj.get("metadata") or {}
    row: dict[str, Any] = {
        "kind": e.kind,
        "type": e.type,
        "name": e.name,
        "mono": e.mono,
        "wall": e.wall,
        "resourceVersion": meta.get("resourceVersion"),
        "generation": meta.get("generation"),
    }
    if e.kind == "deployment":
        row["status"] = e.obj.get("status")
    elif e.kind == "service":
        row["selector"] = (e.obj.get("spec") or {}).get("selector")
    else:
        status = e.obj.get("status") or {}
        row["phase"] = status.get("phase")
        row["conditions"] = {
            c["type"]: [c.get("status"), c.get("observedGeneration")]
            for c in status.get("conditions") or []
        }
    return row


def outliers(
    result: dict[str, Any], events: list[dict[str, Any]], key: str, above_ms: float
) -> list[dict[str, Any]]:
    """Changes whose ``key`` exceeds ``above_ms``, with how many watch events reached the bench
    within 5 ms of the closing one. A burst means the bench's streams stalled and delivered
    a backlog at once (the process or the API server waited for a CPU), so the figure
    includes that stall, not only the operator's work."""
    ends = {"available_to_switch": "t_switched", "spec_to_candidate": "t_added"}
    found = []
    for row in result["per_change"]:
        value = row.get(key)
        if value is None or value * 1000 <= above_ms:
            continue
        end = row[ends[key]]
        burst = [e for e in events if abs(e["mono"] - end) <= 0.005]
        found.append(
            {
                "release": row["release"],
                "version": row["version"],
                "ms": round(value * 1000, 1),
                "events_within_5ms": len(burst),
                "release_phases_in_burst": [
                    e.get("phase") for e in burst if e["kind"] == "release" and e.get("phase")
                ],
            }
        )
    return found
