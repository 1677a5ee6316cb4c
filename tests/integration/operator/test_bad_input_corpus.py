"""Releases that can't work, thrown at the real API server and the real operator.

Each case of tests/integration/corpus.py declares its outcome: refused by the
API server with the CRD's message, or accepted and then Stalled with a stable
reason, or accepted and safe (a check fails, nothing else moves), or accepted
and harmless. Meanwhile a bystander release in its own namespace stays exactly
as it was, and the operator's liveness endpoint answers throughout.
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.integration import corpus
from tests.integration.corpus import (
    Admitted,
    Case,
    CheckFailed,
    Completes,
    Refused,
    Stalled,
    Targets,
)
from tests.integration.harness import Kubectl, Operator, Release, wait_for

SETTLE_TIMEOUT_S = 120
"""Every accepted case settles well within this (about 30 s when all behave)."""
LIVENESS_INTERVAL_S = 0.5
LIVENESS_TIMEOUT_S = 3
RELEASE_LABEL = "bluegreen.dev/release"
HUGE_BODY_BYTES = 8 * 1024 * 1024
SLOW_SECONDS = 5


# --- local HTTP targets ---------------------------------------------------------------


class TargetServer:
    """A local HTTP server whose paths play a healthy app, a slow one, a hostile one."""

    def __init__(self, host: str) -> None:
        self.hits: list[str] = []
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                outer.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test prints its own table."""

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path
        if path == "/status/500":
            self._send(request, 500, b"boom")
        elif path == "/redirect":
            request.send_response(302)
            request.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            request.send_header("Content-Length", "0")
            request.end_headers()
        elif path == "/aaaa":
            # Exponential work for a backtracking engine on (a+)+$; linear for RE2.
            self._send(request, 200, b"a" * 60_000 + b"!")
        elif path == "/huge":
            self._send_huge(request)
        elif path == "/slow":
            # The server's own behaviour under test, not a wait for a condition.
            self.stopping.wait(SLOW_SECONDS)
            self._send(request, 200, "Spacelift App V1 🚀".encode())
        else:
            self._send(request, 200, "Spacelift App V1 🚀".encode())

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "text/plain; charset=utf-8")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        # The client may stop reading early: that is what a bounded reader does.
        with contextlib.suppress(OSError):
            request.wfile.write(payload)

    @staticmethod
    def _send_huge(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(HUGE_BODY_BYTES))
        request.end_headers()
        chunk = b"x" * 65536
        with contextlib.suppress(OSError):
            for _ in range(HUGE_BODY_BYTES // len(chunk)):
                request.wfile.write(chunk)

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


# --- liveness -------------------------------------------------------------------------


@dataclass
class LivenessProbe:
    """Probes the operator's /healthz in a background thread until stopped."""

    url: str
    max_probes: int
    probes: int = 0
    failures: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for _ in range(self.max_probes):
            if self.stopping.is_set():
                return
            self.probes += 1
            try:
                with urllib.request.urlopen(self.url, timeout=LIVENESS_TIMEOUT_S) as response:
                    if response.status != 200:
                        self.failures.append(f"{time.strftime('%X')} status {response.status}")
            except OSError as err:
                self.failures.append(f"{time.strftime('%X')} {type(err).__name__}: {err}")
            self.stopping.wait(LIVENESS_INTERVAL_S)

    def stop(self) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=LIVENESS_TIMEOUT_S + 1)


# --- the run --------------------------------------------------------------------------


@dataclass
class Result:
    case: Case
    actual: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Observed:
    """What a reconciled release ended as."""

    kind: str
    """Completes, Stalled or CheckFailed."""
    reason: str = ""
    check: str = ""
    message: str = ""
    phase: str = ""

    def __str__(self) -> str:
        if self.kind == "Stalled":
            return f"Stalled/{self.reason or '<no reason>'}: {self.message[:80]}"
        if self.kind == "CheckFailed":
            return f"CheckFailed {self.check} ({self.phase}): {self.message[:80]}"
        return self.kind


class Corpus:
    def __init__(self, k: Kubectl, env: Mapping[str, str], namespaces: Mapping[str, str]) -> None:
        self.k, self.env, self.ns = k, dict(env), dict(namespaces)

    def create(self, namespace: str, obj: Mapping[str, Any], dry_run: bool) -> tuple[bool, str]:
        args = ["kubectl", "create", "-n", namespace, "-f", "-"]
        if dry_run:
            args.insert(2, "--dry-run=server")
        done = subprocess.run(
            args,
            env=self.env,
            input=json.dumps(obj),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode == 0, done.stdout + done.stderr

    def admission(self, case: Case) -> Result:
        accepted, output = self.create(self.ns[case.namespace], case.body, dry_run=True)
        expect = case.expect
        if isinstance(expect, Refused):
            ok = not accepted and expect.message in output
            actual = "Refused" if not accepted else "Admitted"
            return Result(case, actual, ok, output.strip()[-300:])
        return Result(case, "Admitted" if accepted else "Refused", accepted, output.strip()[-300:])

    def release(self, case: Case) -> Release:
        return Release(self.k, self.ns[case.namespace], case.name)

    def observe(self, case: Case) -> Observed | None:
        obj = self.release(case).get()
        status = obj.get("status") or {}
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        generation = obj.get("metadata", {}).get("generation")
        current = {t: c for t, c in conditions.items() if c.get("observedGeneration") == generation}
        stalled = current.get("Stalled", {})
        if stalled.get("status") == "True":
            revision = status.get("revision")
            failed = [
                c
                for c in status.get("checks") or []
                if c.get("phase") == "Failed" and c.get("revision") == revision
            ]
            if failed:
                return Observed(
                    "CheckFailed",
                    reason=str(stalled.get("reason") or ""),
                    check=str(failed[0].get("name")),
                    message=str(failed[0].get("message") or ""),
                    phase=str(status.get("phase") or ""),
                )
            return Observed(
                "Stalled",
                reason=str(stalled.get("reason") or ""),
                message=str(stalled.get("message") or ""),
                phase=str(status.get("phase") or ""),
            )
        if current.get("Ready", {}).get("status") == "True" and status.get("phase") == "Complete":
            return Observed("Completes", phase="Complete")
        return None

    def judge(self, case: Case, seen: Observed | None) -> Result:
        if seen is None:
            status = self.release(case).status()
            return Result(case, f"unsettled (phase {status.get('phase')})", False)
        expect = case.expect
        ok = False
        detail = ""
        if isinstance(expect, Stalled):
            ok = seen.kind == "Stalled" and seen.reason == expect.reason
        elif isinstance(expect, CheckFailed):
            ok = (
                seen.kind == "CheckFailed"
                and seen.check == expect.check
                and expect.message in seen.message
                and seen.phase == "Failed"
            )
            if ok:
                ok, detail = self.traffic_untouched(case)
        elif isinstance(expect, Completes):
            ok = seen.kind == "Completes"
            if ok:
                ok, detail = self.serves_its_own_revision(case)
        return Result(case, str(seen), ok, detail)

    def stable_service(self, case: Case) -> dict[str, Any]:
        name = case.body["spec"]["service"]["name"]
        return self.k.json("get", "svc", name, "-n", self.ns[case.namespace]) or {}

    def traffic_untouched(self, case: Case) -> tuple[bool, str]:
        """A failed first release: its stable Service never selects the failed revision."""
        revision = self.release(case).revision()
        selector = self.stable_service(case).get("spec", {}).get("selector") or {}
        if selector.get("bluegreen.dev/revision") == revision:
            return False, f"stable Service selects the failed revision: {selector}"
        return True, ""

    def serves_its_own_revision(self, case: Case) -> tuple[bool, str]:
        active = (self.release(case).status().get("active") or {}).get("revision")
        selector = self.stable_service(case).get("spec", {}).get("selector") or {}
        expected = {"bluegreen.dev/release": case.name, "bluegreen.dev/revision": active}
        if not active or selector != expected:
            return False, f"stable Service selector {selector}, expected {expected}"
        return True, ""

    # -- the phases of a run, for the cases the API server accepted --

    def create_foreign(self, cases: list[Case]) -> dict[tuple[str, str], tuple[Any, ...]]:
        """Creates the objects cases name but must not own; returns their state."""
        before: dict[tuple[str, str], tuple[Any, ...]] = {}
        for case in cases:
            ns = self.ns[case.namespace]
            for obj in case.foreign:
                created, output = self.create(ns, obj, dry_run=False)
                assert created, output
                before[(case.id, obj["metadata"]["name"])] = foreign_state(self.k, ns, obj)
        return before

    def moved_foreign(
        self, cases: list[Case], before: Mapping[tuple[str, str], tuple[Any, ...]]
    ) -> dict[str, str]:
        """Cases whose foreign objects changed (an opted-in adoption may change them)."""
        moved: dict[str, str] = {}
        for case in cases:
            if isinstance(case.expect, Completes):
                continue
            for obj in case.foreign:
                name = obj["metadata"]["name"]
                if foreign_state(self.k, self.ns[case.namespace], obj) != before[(case.id, name)]:
                    moved[case.id] = f"foreign {obj['kind']} {name} was written"
        return moved

    def owned_by(self, namespace: str, service: str, release: str) -> bool:
        svc = self.k.json("get", "svc", service, "-n", namespace) or {}
        return bool(svc.get("metadata", {}).get("labels", {}).get(RELEASE_LABEL) == release)

    def create_in_order(self, cases: list[Case]) -> None:
        """Releases other cases name first, once they own their Services; then the rest."""
        firsts = [c for c in cases if any(c.id in other.after for other in cases)]
        first_ids = {c.id for c in firsts}
        for case in firsts:
            self.create_release(case)
        for case in firsts:
            ns = self.ns[case.namespace]
            spec = case.body["spec"]
            for svc in (spec["service"]["name"], spec["previewService"]["name"]):
                wait_for(
                    f"{case.id} owns Service {svc}",
                    functools.partial(self.owned_by, ns, svc, case.name),
                    timeout=60,
                )
        for case in cases:
            if case.id not in first_ids:
                self.create_release(case)

    def create_release(self, case: Case) -> None:
        created, output = self.create(self.ns[case.namespace], case.body, dry_run=False)
        assert created, f"{case.id}: {output}"

    def settle(self, cases: list[Case]) -> dict[str, Observed]:
        """What each case ended as; those still in flight at the deadline are left out."""
        settled: dict[str, Observed] = {}

        def all_settled() -> bool:
            for case in cases:
                if case.id not in settled and (seen := self.observe(case)) is not None:
                    settled[case.id] = seen
            return len(settled) == len(cases)

        try:
            wait_for("every accepted case settled", all_settled, SETTLE_TIMEOUT_S, interval=1)
        except AssertionError as err:
            print(err)  # the unsettled cases are reported, one by one, in the table
        return settled


def snapshot_bystander(k: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    """Everything about the bystander that nothing in the corpus may change."""
    svc = k.json("get", "svc", name, "-n", namespace) or {}
    slices = (
        k.json("get", "endpointslices", "-n", namespace, "-l", f"kubernetes.io/service-name={name}")
        or {}
    ).get("items", [])
    bgr = Release(k, namespace, name)
    status = bgr.status()
    return {
        "service.uid": svc.get("metadata", {}).get("uid"),
        "service.resourceVersion": svc.get("metadata", {}).get("resourceVersion"),
        "service.selector": svc.get("spec", {}).get("selector"),
        "endpointslices": sorted(
            (
                s["metadata"]["uid"],
                tuple(
                    sorted(
                        (
                            tuple(e.get("addresses") or []),
                            (e.get("targetRef") or {}).get("name"),
                            bool((e.get("conditions") or {}).get("ready")),
                        )
                        for e in s.get("endpoints") or []
                    )
                ),
            )
            for s in slices
        ),
        "deployments": sorted(
            (d["metadata"]["name"], d["metadata"]["uid"]) for d in bgr.deployments().values()
        ),
        "phase": status.get("phase"),
        "active": (status.get("active") or {}).get("revision"),
    }


def foreign_state(k: Kubectl, namespace: str, obj: Mapping[str, Any]) -> tuple[Any, ...]:
    got = k.json("get", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace) or {}
    meta = got.get("metadata", {})
    return (
        meta.get("uid"),
        meta.get("resourceVersion"),
        json.dumps(got.get("spec", {}).get("selector"), sort_keys=True),
    )


def table(results: list[Result]) -> str:
    width = max(len(r.case.id) for r in results)
    lines = [f"{'case':<{width}}  {'expected':<26}  ok    actual"]
    for r in results:
        expected = str(r.case.expect)
        if isinstance(r.case.expect, CheckFailed):
            expected += f" {r.case.expect.check}"
        mark = "yes" if r.ok else "NO"
        extra = f"  [{r.detail}]" if r.detail and not r.ok else ""
        lines.append(f"{r.case.id:<{width}}  {expected:<26}  {mark:<4}  {r.actual}{extra}")
    by_outcome: Counter[str] = Counter(str(r.case.expect) for r in results)
    passed: Counter[str] = Counter(str(r.case.expect) for r in results if r.ok)
    lines.append("")
    lines.append(f"{'outcome':<26} cases  as expected")
    for outcome in sorted(by_outcome):
        lines.append(f"{outcome:<26} {by_outcome[outcome]:>5}  {passed[outcome]:>11}")
    lines.append(f"{'total':<26} {len(results):>5}  {sum(passed.values()):>11}")
    return "\n".join(lines)


def delete_releases(
    k: Kubectl, namespaces: list[str], timeout: float = 60
) -> list[tuple[str, str]]:
    """Deletes every release while the operator still runs; returns those it could not.

    A release can always be deleted. One left behind would keep its namespace
    Terminating once the operator is gone: past the deadline its finalizer is
    dropped, and the caller reports it.
    """
    for ns in namespaces:
        k.run("delete", "bgr", "--all", "-n", ns, "--wait=false", check=False)

    def remaining() -> list[tuple[str, str]]:
        return [
            (ns, item["metadata"]["name"])
            for ns in namespaces
            for item in (k.json("get", "bgr", "-n", ns) or {}).get("items", [])
        ]

    try:
        wait_for("every release deleted", lambda: not remaining(), timeout=timeout, interval=1)
    except AssertionError:
        left = remaining()
        for ns, name in left:
            patch = '{"metadata":{"finalizers":null}}'
            k.run("patch", "bgr", name, "-n", ns, "--type=merge", "-p", patch, check=False)
        return left
    return []


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture
def servers() -> Iterator[tuple[TargetServer, TargetServer]]:
    ok, bait = TargetServer("127.0.0.1"), TargetServer("127.0.0.2")
    yield ok, bait
    ok.stop()
    bait.stop()


@pytest.fixture
def namespaces(k: Kubectl) -> Iterator[dict[str, str]]:
    run = f"bc-{uuid.uuid4().hex[:6]}"
    names = {
        corpus.MAIN: f"{run}-m",
        corpus.COLLIDE_OUTER: run,
        corpus.COLLIDE_INNER: f"{run}-x",
        "bystander": f"{run}-by",
    }
    for name in names.values():
        k.run("create", "namespace", name)
    yield names
    for name in names.values():
        k.run("delete", "namespace", name, "--wait=false", check=False)


def test_bad_input_corpus(
    cluster: Cluster,
    k: Kubectl,
    namespaces: dict[str, str],
    servers: tuple[TargetServer, TargetServer],
    tmp_path: Path,
) -> None:
    ok_server, bait = servers
    targets = Targets(ok=ok_server.url, bait=bait.url)
    cases = corpus.build(targets)
    ids = [c.id for c in cases]
    assert len(cases) >= 60
    assert len(set(ids)) == len(ids), "case ids must be unique"
    run = Corpus(k, cluster.env, namespaces)

    watched = [arg for ns in namespaces.values() for arg in ("--namespace", ns)]
    operator = Operator(
        cluster.env,
        namespaces[corpus.MAIN],
        tmp_path / "operator.log",
        *watched,
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        "--check-allowed-hosts",
        "127.0.0.1",
    )
    operator.start()
    probe = LivenessProbe(
        f"http://127.0.0.1:{operator.liveness_port}/healthz",
        max_probes=int((SETTLE_TIMEOUT_S * 3) / LIVENESS_INTERVAL_S),
    )
    try:
        wait_for("operator liveness", lambda: live(probe.url), timeout=30)
        results = _run(run, cases, targets, k, operator, probe)
    finally:
        probe.stop()
        undeletable = delete_releases(k, list(namespaces.values()))
        operator.kill()
        print(f"operator log: {operator.log}")
        print(operator.log.read_text()[-3000:])

    report = table(results)
    report += (
        f"\n\nliveness: {probe.probes} probes, {len(probe.failures)} failures"
        f"\nbait host requests: {len(bait.hits)}"
        f"\nreleases not deleted within a minute: {undeletable}"
    )
    print(report)
    (tmp_path / "corpus-outcomes.txt").write_text(report + "\n")

    wrong = [f"{r.case.id}: expected {r.case.expect}, got {r.actual} {r.detail}" for r in results]
    wrong = [w for w, r in zip(wrong, results, strict=True) if not r.ok]
    assert not probe.failures, f"liveness failed: {probe.failures[:5]}"
    assert not undeletable, f"releases that could not be deleted: {undeletable}"
    assert not bait.hits, (
        f"a check reached a host the operator was not started to allow: {bait.hits}"
    )
    assert not wrong, "\n".join(wrong)


def live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=LIVENESS_TIMEOUT_S) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _run(
    run: Corpus,
    cases: list[Case],
    targets: Targets,
    k: Kubectl,
    operator: Operator,
    probe: LivenessProbe,
) -> list[Result]:
    # The bystander: Complete before anything else happens, compared afterwards.
    bystander_ns = run.ns["bystander"]
    bystander = Release(k, bystander_ns, "bystander")
    bystander.apply(corpus.body("bystander", corpus.base_spec("bystander", targets)))
    bystander.wait_condition("Ready", timeout=120)
    before = snapshot_bystander(k, bystander_ns, "bystander")
    probe.start()

    # Admission: every case, server-side dry run.
    with ThreadPoolExecutor(max_workers=8) as pool:
        admissions = list(pool.map(run.admission, cases))
    results = {
        case.id: admission
        for case, admission in zip(cases, admissions, strict=True)
        if isinstance(case.expect, Refused | Admitted) or not admission.ok
    }
    reconciled = [c for c in cases if c.id not in results]

    foreign_before = run.create_foreign(reconciled)
    run.create_in_order(reconciled)
    settled = run.settle(reconciled)
    for case in reconciled:
        results[case.id] = run.judge(case, settled.get(case.id))
    for case_id, detail in run.moved_foreign(reconciled, foreign_before).items():
        r = results[case_id]
        results[case_id] = Result(r.case, r.actual, False, detail)

    after = snapshot_bystander(k, bystander_ns, "bystander")
    assert operator.process is not None and operator.process.poll() is None, "operator died"
    assert after == before, f"the bystander changed:\nbefore {before}\nafter  {after}"
    return [results[c.id] for c in cases]
