"""The blue/green article's manual flow against one BlueGreenRelease, on the real node.

``python -m bench.article_flow`` (``make bench-article``; not part of ``make
test`` or CI) runs two releases of the project's demo app (``spacelift-app:v1``
then ``:v2``, 3 replicas, on the local real node) one after the other, each in
a namespace of its own, with the same load through a NodePort Service:

- **Terraform, by hand**: ``bench/article/main.tf`` (the namespace, a NodePort
  Service ``spacelift-app`` and Deployments ``spacelift-app-v1``/``-v2`` selected
  by their ``app`` label) applied four times with the toolchain's Terraform and
  the provider from its offline mirror, local state in a scratch directory:
  v1; add v2; move the Service's selector to v2; remove v1. Nothing happens
  between two applies: each starts as soon as the previous one returned (a
  person would be slower, never faster).
- **One BlueGreenRelease**: the operator runs as a local process watching the
  namespace (as the e2e tests run it) with ``--infrastructure terraform``, as a
  user would; the release is applied with v1, then with v2 (hold 2 s).

The load (``tests/e2e/traffic.py``: a new TCP connection per request) goes to the
Service's NodePort on the node's address from the moment the Service has one
until 5 s after the last step. Each request counts in the step during which it
started. Per step: wall time, requests sent and failed (failures before the
Service's first answer are shown apart: the app is not up yet), answers from
V1 and from V2. ``--control HOST:PORT`` loads a steady Service as well, whose
failures are the cluster's, not a flow's. The result is written to
bench/results/article-flow-<time>.json.

"Human steps" are counted, not measured: see ``HUMAN_STEPS``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e.test_seed_story import bgr
from tests.e2e.traffic import LoadGenerator, Sample, analyse_switch
from tests.integration.harness import REPO, Kubectl, Operator, Release, wait_for

from bench.cluster import cluster_env

CONFIG = REPO / "bench" / "article" / "main.tf"
RESULTS = REPO / "bench" / "results"
NODE = os.environ.get("BLUEGREEN_REAL_NODE_NAME", "bluegreen-node-0")
SERVICE = "spacelift-app"
V1_TEXT, V2_TEXT = "Spacelift App V1", "Spacelift App V2"
TERRAFORM_TIMEOUT_S = 600
RELEASE_TIMEOUT_S = 600
CLEANUP_TIMEOUT_S = 300

# (step, v1_enabled, v2_enabled, live): the article's four applies.
STAGES: tuple[tuple[str, bool, bool, str], ...] = (
    ("1. v1", True, False, "v1"),
    ("2. add v2", True, True, "v1"),
    ("3. selector to v2", True, True, "v2"),
    ("4. remove v1", False, True, "v2"),
)

HUMAN_STEPS: dict[str, dict[str, Any]] = {
    "terraform": {
        "edits": 4,
        "commands": 5,
        "checks": 2,
        "total": 11,
        "counted": (
            "4 edits of the configuration (write it with v1; add v2; change the Service's "
            "selector; remove v1), 5 commands (terraform init, then terraform apply after each "
            "edit, each confirmed at its prompt), and 2 checks a careful person makes because "
            "nothing else does: that v2 answers before moving the selector to it, and that "
            "the Service answers with v2 before removing v1. No wait is needed for pods: "
            "terraform apply waits for each Deployment's rollout."
        ),
    },
    "bluegreenrelease": {
        "edits": 2,
        "commands": 3,
        "checks": 0,
        "total": 5,
        "counted": (
            "2 edits of the manifest (write it with v1; change the image to v2), 3 commands "
            "(kubectl create namespace, kubectl apply for v1, kubectl apply for v2), no check: "
            "the operator waits for readiness, runs the smoke check through the preview "
            "Service, switches, holds and removes v1 itself. Watching it (kubectl get bgr -w) "
            "is optional and not counted; installing the operator is a one-time set-up, not "
            "counted."
        ),
    },
}


@dataclasses.dataclass
class Step:
    name: str
    started: float
    ended: float
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


class ServiceLoad:
    """Load on the Service's NodePort, started as soon as the Service has one."""

    def __init__(
        self, k: Kubectl, namespace: str, node_ip: str, *, workers: int, pause: float
    ) -> None:
        self.k, self.ns, self.node_ip = k, namespace, node_ip
        self.workers, self.pause = workers, pause
        self.load: LoadGenerator | None = None
        self.started_at: float | None = None
        self.node_port: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._start_when_exposed, daemon=True)

    def _start_when_exposed(self) -> None:
        deadline = time.monotonic() + RELEASE_TIMEOUT_S
        while not self._stop.is_set() and time.monotonic() < deadline:
            svc = self.k.json("get", "service", SERVICE, "-n", self.ns) or {}
            ports = svc.get("spec", {}).get("ports") or []
            if ports and ports[0].get("nodePort"):
                self.node_port = int(ports[0]["nodePort"])
                self.load = LoadGenerator(
                    self.node_ip,
                    self.node_port,
                    workers=self.workers,
                    pause=self.pause,
                    max_seconds=1800,
                    max_requests=500_000,
                )
                self.load.__enter__()
                self.started_at = time.monotonic()
                return
            self._stop.wait(0.2)

    def __enter__(self) -> ServiceLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.load.stop() if self.load else []


def node_ip(k: Kubectl) -> str:
    node = k.json("get", "node", NODE) or {}
    addresses = node.get("status", {}).get("addresses") or []
    ip = next((a["address"] for a in addresses if a["type"] == "InternalIP"), None)
    if not ip:
        raise SystemExit(f"real node {NODE} not found or without an InternalIP: is it up?")
    return str(ip)


def step_figures(
    samples: Sequence[Sample], steps: Sequence[Step], tail: Step
) -> list[dict[str, Any]]:
    """Per step (and the tail after the last): requests that started in it."""
    first_ok = min((s.start for s in samples if s.ok), default=None)
    out = []
    bounds = [*steps, tail]
    for i, step in enumerate(bounds):
        end = bounds[i + 1].started if i + 1 < len(bounds) else step.ended
        mine = [s for s in samples if step.started <= s.start < end]
        failed = [s for s in mine if not s.ok]
        before = [s for s in failed if first_ok is None or s.start < first_ok]
        errors: dict[str, int] = {}
        for s in failed:
            key = (s.error or f"HTTP {s.status}").split(":")[0]
            errors[key] = errors.get(key, 0) + 1
        out.append(
            {
                "step": step.name,
                "wall_s": round(step.ended - step.started, 2),
                "sent": len(mine),
                "failed": len(failed),
                "failed_before_first_answer": len(before),
                "failed_once_serving": len(failed) - len(before),
                "errors": errors,
                "answers_v1": sum(1 for s in mine if s.ok and V1_TEXT in s.body),
                "answers_v2": sum(1 for s in mine if s.ok and V2_TEXT in s.body),
                # Whole seconds from the step's start in which some request failed: bursts
                # (a rule or an endpoint missing for a moment) or a steady rate.
                "seconds_with_failures": sorted({int(s.start - step.started) for s in failed}),
                **step.detail,
            }
        )
    return out


def switch_figures(samples: Sequence[Sample], at: float) -> dict[str, Any]:
    """The move from V1 to V2 answers, from ``at`` (the step that moves traffic started)."""
    report = analyse_switch([s for s in samples if s.start >= at - 1], at, V1_TEXT, V2_TEXT)
    return {
        "first_v2_answer_after_s": report.first_new_after_s,
        "last_v1_answer_after_s": report.last_old_after_s,
        "v1_answers_after_first_v2": report.flaps,
    }


def _terraform(env: dict[str, str], work: Path, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        ["terraform", *args, "-input=false", "-no-color"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=TERRAFORM_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"terraform {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr}")
    return time.monotonic() - started


def _variables(namespace: str, kubeconfig: str, v1: bool, v2: bool, live: str) -> list[str]:
    values = {
        "kubeconfig_path": kubeconfig,
        "namespace": namespace,
        "v1_enabled": str(v1).lower(),
        "v2_enabled": str(v2).lower(),
        "live": live,
    }
    return [f"-var={name}={value}" for name, value in values.items()]


def run_terraform_flow(
    env: dict[str, str], k: Kubectl, ip: str, workers: int, pause: float, tail_s: float
) -> dict[str, Any]:
    namespace = f"spacelift-bench-tf-{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="article-flow-tf-"))
    shutil.copy(CONFIG, work / "main.tf")
    last = STAGES[-1]
    try:
        init_s = _terraform(env, work, "init")
        steps: list[Step] = []
        with ServiceLoad(k, namespace, ip, workers=workers, pause=pause) as load:
            for name, v1, v2, live in STAGES:
                started = time.monotonic()
                took = _terraform(
                    env,
                    work,
                    "apply",
                    "-auto-approve",
                    *_variables(namespace, env["KUBECONFIG"], v1, v2, live),
                )
                steps.append(Step(name, started, started + took))
                print(f"[terraform] {name}: {took:.1f} s", flush=True)
            tail = Step(f"after, {tail_s:.0f} s", time.monotonic(), time.monotonic() + tail_s)
            time.sleep(tail_s)
            samples = load.stop()
        return {
            "namespace": namespace,
            "init_s": round(init_s, 2),
            "node_port": load.node_port,
            "load_started_after_s": _after(load.started_at, steps[0].started),
            "wall_s": round(steps[-1].ended - steps[0].started, 2),
            "steps": step_figures(samples, steps, tail),
            "switch": switch_figures(samples, steps[2].started),
            "sent": len(samples),
            "failed": sum(1 for s in samples if not s.ok),
        }
    finally:
        try:
            _terraform(
                env,
                work,
                "destroy",
                "-auto-approve",
                *_variables(namespace, env["KUBECONFIG"], last[1], last[2], last[3]),
            )
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"[terraform] destroy failed, deleting {namespace}: {exc}", flush=True)
            k.run("delete", "namespace", namespace, "--wait=false", check=False)
        shutil.rmtree(work, ignore_errors=True)


def _after(t: float | None, origin: float) -> float | None:
    return None if t is None else round(t - origin, 2)


def article_release(version: str, hold_seconds: int) -> dict[str, Any]:
    """The demo app as one BlueGreenRelease on the real node, behind a NodePort."""
    expect = V1_TEXT if version == "v1" else V2_TEXT
    body = bgr(SERVICE, f"spacelift-app:{version}", expect, hold_seconds=hold_seconds)
    body["spec"]["service"]["type"] = "NodePort"
    return body


def _ready_on(rel: Release, generation: int) -> bool:
    """Ready for ``generation`` and the previous revision's Deployment gone."""
    got = rel.get()
    if got.get("metadata", {}).get("generation") != generation:
        return False
    status = got.get("status") or {}
    ready: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c["type"] == "Ready"), {}
    )
    return (
        ready.get("status") == "True"
        and ready.get("observedGeneration") == generation
        and status.get("phase") == "Complete"
        and len(rel.deployments()) == 1
    )


def _switched_at(rel: Release, before: str) -> float | None:
    sel = rel.selector(SERVICE).get("bluegreen.dev/revision")
    return time.monotonic() if sel and sel != before else None


@contextmanager
def operator_for(env: dict[str, str], k: Kubectl, namespace: str, log: Path) -> Iterator[None]:
    operator = Operator(
        {**env, "PYTHONPATH": str(REPO)},
        namespace,
        log,
        "--infrastructure",
        "terraform",
        "--drift-interval",
        "0",
    )
    operator.start()
    try:
        wait_for("operator metrics", lambda: _metrics_up(operator), timeout=60)
        yield
    finally:
        # The finalizer destroys what Terraform made: let the operator run it.
        k.run("delete", "bgr", SERVICE, "-n", namespace, "--wait=false", check=False)
        try:
            wait_for(
                "the release's removal",
                lambda: (k.json("get", "bgr", "-n", namespace) or {}).get("items") == [],
                timeout=CLEANUP_TIMEOUT_S,
                interval=1,
            )
        except AssertionError as exc:
            print(f"[release] {exc}", flush=True)
        operator.kill()
        k.run("delete", "namespace", namespace, "--wait=false", check=False)


def _metrics_up(operator: Operator) -> bool:
    if operator.process is not None and operator.process.poll() is not None:
        raise RuntimeError(f"operator exited; log: {operator.log}")
    try:
        return "bluegreen_" in operator.metrics()
    except OSError:
        return False


def run_release_flow(
    env: dict[str, str],
    k: Kubectl,
    ip: str,
    workers: int,
    pause: float,
    tail_s: float,
    hold_seconds: int,
    log: Path,
) -> dict[str, Any]:
    namespace = f"spacelift-bench-bgr-{uuid.uuid4().hex[:6]}"
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    k.run("create", "namespace", namespace)
    rel = Release(k, namespace, SERVICE)
    steps: list[Step] = []
    with (
        operator_for(env, k, namespace, log),
        ServiceLoad(k, namespace, ip, workers=workers, pause=pause) as load,
    ):
        for version in ("v1", "v2"):
            before = str(rel.selector(SERVICE).get("bluegreen.dev/revision", ""))
            started = time.monotonic()
            rel.apply(article_release(version, hold_seconds))
            generation = int(rel.get()["metadata"]["generation"])
            switched = wait_for(
                f"{version} switched",
                functools.partial(_switched_at, rel, before),
                timeout=RELEASE_TIMEOUT_S,
            )
            wait_for(
                f"{version} complete",
                functools.partial(_ready_on, rel, generation),
                timeout=RELEASE_TIMEOUT_S,
            )
            ended = time.monotonic()
            detail = {"selector_switched_after_s": round(switched - started, 2)}
            steps.append(Step(f"{version}: apply → Complete", started, ended, detail))
            print(f"[release] {version}: {ended - started:.1f} s", flush=True)
        tail = Step(f"after, {tail_s:.0f} s", time.monotonic(), time.monotonic() + tail_s)
        time.sleep(tail_s)
        samples = load.stop()
    return {
        "namespace": namespace,
        "hold_seconds": hold_seconds,
        "node_port": load.node_port,
        "load_started_after_s": _after(load.started_at, steps[0].started),
        "v1_to_v2_wall_s": round(steps[1].ended - steps[1].started, 2),
        "steps": step_figures(samples, steps, tail),
        "switch": switch_figures(samples, steps[1].started),
        "sent": len(samples),
        "failed": sum(1 for s in samples if not s.ok),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.article_flow", description=__doc__)
    parser.add_argument("--workers", type=int, default=4, help="load generator threads")
    parser.add_argument(
        "--pause", type=float, default=0.02, help="seconds each worker waits between requests"
    )
    parser.add_argument(
        "--tail", type=float, default=5.0, help="seconds of load after the last step"
    )
    parser.add_argument("--hold", type=int, default=2, help="the release's hold, seconds")
    parser.add_argument("--only", choices=("terraform", "release"), help="run one flow only")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--control",
        metavar="HOST:PORT",
        help="also load a steady Service of the project's (nothing changes behind it) the "
        "whole time: its failures are the cluster's and the node's, not the flows'",
    )
    args = parser.parse_args(argv)

    env = cluster_env()
    k = Kubectl(env)
    ip = node_ip(k)
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result: dict[str, Any] = {
        "started": stamp,
        "node": NODE,
        "node_ip": ip,
        "load": {"workers": args.workers, "pause_s": args.pause, "tail_s": args.tail},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "human_steps": HUMAN_STEPS,
    }
    control: LoadGenerator | None = None
    if args.control:
        host, _, port = args.control.rpartition(":")
        control = LoadGenerator(
            host, int(port), workers=args.workers, pause=args.pause, max_seconds=1800
        ).__enter__()
    windows: dict[str, tuple[float, float]] = {}
    if args.only in (None, "terraform"):
        began = time.monotonic()
        result["terraform"] = run_terraform_flow(env, k, ip, args.workers, args.pause, args.tail)
        windows["terraform"] = (began, time.monotonic())
    if args.only in (None, "release"):
        # The operator's log and Terraform work directory in scratch; the log is kept.
        scratch = Path(tempfile.mkdtemp(prefix="article-flow-bgr-"))
        began = time.monotonic()
        try:
            result["bluegreenrelease"] = run_release_flow(
                env, k, ip, args.workers, args.pause, args.tail, args.hold, scratch / "operator.log"
            )
        finally:
            if (scratch / "operator.log").exists():
                shutil.copy(
                    scratch / "operator.log", args.results / f"article-flow-{stamp}-operator.log"
                )
            shutil.rmtree(scratch, ignore_errors=True)
        windows["bluegreenrelease"] = (began, time.monotonic())
    if control is not None:
        samples = control.stop()
        result["control"] = {"target": args.control} | {
            flow: {
                "sent": len(mine := [x for x in samples if start <= x.start < end]),
                "failed": sum(1 for x in mine if not x.ok),
                "seconds_with_failures": sorted({int(x.start - start) for x in mine if not x.ok}),
            }
            for flow, (start, end) in windows.items()
        }
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = args.results / f"article-flow-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: result[key] for key in result if key != "human_steps"}, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
