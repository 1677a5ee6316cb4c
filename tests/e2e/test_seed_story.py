"""The seed story on the real node, with live traffic through every step.

The operator runs as a real process; the app runs as real pods on the real
node; a load generator hits the stable Service's ClusterIP from this machine
throughout, through kube-proxy, one new connection per request:

1. v1 (3 replicas) is released and serves.
2. v2 is released: traffic moves from V1 to V2 once, with no failed request
   and no V1 answer after the first V2 one.
3. v3 fails its smoke check: the stable Service stays on v2, nothing fails.
4. v4 passes its smoke check but fails a hold check: the operator rolls back
   to v2, nothing fails.

The figures (requests sent and failed, time from the selector patch to the
first new and the last old answer) are printed for the benchmark notes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.e2e.conftest import PLACEMENT, RealNode, watched_namespace
from tests.e2e.traffic import MAX_MIXED_S, LoadGenerator, SwitchReport, analyse_switch, get
from tests.integration.harness import Kubectl, Release, wait_for

pytestmark = pytest.mark.node

V1_TEXT = "Spacelift App V1"
V2_TEXT = "Spacelift App V2"


def bgr(
    name: str,
    image: str,
    expect: str,
    *,
    message: str | None = None,
    hold_seconds: int = 4,
    hold_checks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A BlueGreenRelease of the demo app on the real node.

    ``message`` sets APP_MESSAGE, which both changes the revision and lets a
    test make a release that serves an unexpected body.
    """
    env = [{"name": "APP_MESSAGE", "value": message}] if message else []
    return {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenRelease",
        "metadata": {"name": name},
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    **PLACEMENT,
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "ports": [{"containerPort": 5000}],
                            "env": env,
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": 5000},
                                "periodSeconds": 1,
                            },
                        }
                    ],
                }
            },
            "service": {"name": name, "type": "ClusterIP", "port": 80, "targetPort": 5000},
            "previewService": {"name": f"{name}-preview"},
            "checks": {
                "readiness": {"timeoutSeconds": 120},
                # No URL: the operator calls the preview Service's ClusterIP,
                # which this machine reaches through kube-proxy.
                "smoke": [
                    {"name": "home", "http": {"path": "/", "expectBody": expect, "attempts": 3}}
                ],
            },
            "promotion": {"auto": True},
            "hold": {
                "seconds": hold_seconds,
                "checks": hold_checks or [],
                "checkIntervalSeconds": 1,
            },
        },
    }


class SelectorWatch:
    """Records, with monotonic times, every selector the stable Service takes."""

    def __init__(self, k: Kubectl, namespace: str, service: str) -> None:
        self.k, self.ns, self.svc = k, namespace, service
        self.changes: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from kubernetes import client, config, watch

        api = client.CoreV1Api(config.new_client_from_config(config_file=self.k.env["KUBECONFIG"]))
        resource_version = None
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                # One long watch: a restart would leave a gap in which a change
                # is seen late, and its time would be wrong.
                for event in stream.stream(
                    api.list_namespaced_service,
                    self.ns,
                    field_selector=f"metadata.name={self.svc}",
                    resource_version=resource_version,
                    timeout_seconds=900,
                ):
                    seen = time.monotonic()
                    obj = event["object"]
                    resource_version = obj.metadata.resource_version
                    selector = dict(obj.spec.selector or {})
                    if not self.changes or self.changes[-1][1] != selector:
                        self.changes.append((seen, selector))
                    if self._stop.is_set():
                        break
            except Exception:  # a dropped watch is resumed from the last version
                time.sleep(0.2)
            finally:
                stream.stop()

    def __enter__(self) -> SelectorWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # The thread is a daemon blocked on the watch: it ends with the session.
        self._stop.set()

    def since(self, t: float) -> list[tuple[float, dict[str, str]]]:
        """Selector changes after ``t``; the first entry is the state the watch found."""
        return [c for c in self.changes[1:] if c[0] >= t]


@pytest.fixture
def story(cluster: Cluster, real_node: RealNode, tmp_path: Path) -> Iterator[tuple[Kubectl, str]]:
    with watched_namespace(cluster, "e2e", tmp_path / "operator.log") as (k, namespace, operator):
        operator.start()
        yield k, namespace


def revision_serving(rel: Release) -> str:
    return str((rel.status().get("active") or {}).get("revision", ""))


def report(title: str, r: SwitchReport) -> None:
    print(f"[seed story] {title}: {r.summary()}")


def release_v1(k: Kubectl, ns: str, rel: Release) -> str:
    rel.apply(bgr(rel.name, "spacelift-app:v1", "V1"))
    rel.wait_condition("Ready", timeout=180)
    cluster_ip = str(k.json("get", "svc", rel.name, "-n", ns)["spec"]["clusterIP"])
    wait_for(
        "V1 through the stable Service",
        lambda: (s := get(cluster_ip, 80)).ok and V1_TEXT in s.body,
        timeout=30,
    )
    return cluster_ip


def release_v2(rel: Release, load: LoadGenerator, selectors: SelectorWatch) -> str:
    """v2: one switch, nothing lost, no flapping. Returns v2's revision."""
    v1_revision = revision_serving(rel)
    t2 = time.monotonic()
    rel.apply(bgr(rel.name, "spacelift-app:v2", "V2"))
    wait_for("v2 active", lambda: revision_serving(rel) not in ("", v1_revision), timeout=180)
    v2_revision = revision_serving(rel)
    wait_for("V2 answers", lambda: load.seen(V2_TEXT), timeout=30)
    rel.wait_condition("Ready", timeout=120)
    mark = load.count()
    wait_for("traffic after the switch", lambda: load.count() >= mark + 500, timeout=60)
    switches = selectors.since(t2)
    assert len(switches) == 1, switches
    assert switches[0][1].get("bluegreen.dev/revision") == v2_revision
    samples = [s for s in load.samples if s.start >= t2]
    r2 = analyse_switch(samples, switches[0][0], old=V1_TEXT, new=V2_TEXT)
    report("v1 -> v2", r2)
    assert r2.failed == 0, r2.failures
    assert r2.mixed_s < MAX_MIXED_S, r2.summary()
    return v2_revision


def release_v3_failing_smoke(
    rel: Release, load: LoadGenerator, selectors: SelectorWatch, v2_revision: str
) -> None:
    """v3 fails its smoke check: v2 keeps serving, nothing fails."""
    t3 = time.monotonic()
    rel.apply(bgr(rel.name, "spacelift-app:v2", "V3", message="Spacelift App V2 (v3 build)"))
    rel.wait_phase("Failed", timeout=180)
    assert revision_serving(rel) == v2_revision
    assert selectors.since(t3) == []
    samples = [s for s in load.samples if s.start >= t3]
    wrong = [s for s in samples if not (s.ok and V2_TEXT in s.body)]
    assert samples and not wrong, wrong[:5]
    print(f"[seed story] v3 smoke failure: sent={len(samples)} failed=0, stayed on v2")


def release_v4_failing_hold(
    rel: Release, load: LoadGenerator, selectors: SelectorWatch, v2_revision: str
) -> float:
    """v4 passes smoke but fails a hold check: rolled back to v2. Returns its start."""
    t4 = time.monotonic()
    failing_hold = [
        {"name": "never", "http": {"path": "/", "expectBody": "no such text", "attempts": 2}}
    ]
    body = bgr(
        rel.name,
        "spacelift-app:v2",
        "V4",
        message="Spacelift App V4",
        hold_seconds=60,
        hold_checks=failing_hold,
    )
    rel.apply(body)
    rel.wait_phase("RolledBack", timeout=180)
    wait_for("v2 active again", lambda: revision_serving(rel) == v2_revision, timeout=30)
    mark = load.count()
    wait_for("traffic after the rollback", lambda: load.count() >= mark + 300, timeout=60)
    changes = selectors.since(t4)
    assert len(changes) == 2, changes  # switch to v4, then back to v2
    assert changes[-1][1].get("bluegreen.dev/revision") == v2_revision
    to_v4, back_to_v2 = changes[0][0], changes[1][0]
    samples = [s for s in load.samples if s.start >= to_v4]
    failures = [s for s in samples if not s.ok]
    v4_answers = sum(1 for s in samples if "V4" in s.body)
    back = analyse_switch(
        [s for s in samples if s.start >= back_to_v2 - 0.5],
        back_to_v2,
        old="Spacelift App V4",
        new=V2_TEXT,
    )
    print(
        f"[seed story] v4 switched in, then hold failure and rollback: sent={len(samples)} "
        f"failed={len(failures)} v4_answers={v4_answers} rollback: {back.summary()}; "
        f"failures at {[round(f.start - back_to_v2, 2) for f in failures]}s after the rollback"
    )
    assert failures == [], explain(failures, selectors, story_events(rel.k, rel.ns))
    assert back.mixed_s < MAX_MIXED_S, back.summary()
    return t4


def test_seed_story_with_live_traffic(story: tuple[Kubectl, str]) -> None:
    k, ns = story
    rel = Release(k, ns, "shop")
    cluster_ip = release_v1(k, ns, rel)
    with (
        SelectorWatch(k, ns, rel.name) as selectors,
        LoadGenerator(cluster_ip, 80, max_seconds=600) as load,
    ):
        wait_for("the selector watch", lambda: selectors.changes, timeout=30)
        wait_for("load on v1", lambda: load.count() >= 200, timeout=30)
        v2_revision = release_v2(rel, load, selectors)
        release_v3_failing_smoke(rel, load, selectors, v2_revision)
        release_v4_failing_hold(rel, load, selectors, v2_revision)
        samples = load.stop()
    failures = [s for s in samples if not s.ok]
    print(f"[seed story] whole story: sent={len(samples)} failed={len(failures)}")
    assert failures == [], explain(failures, selectors, story_events(k, ns))


def story_events(k: Kubectl, ns: str) -> list[tuple[float, str]]:
    """The namespace's events as (monotonic time, "reason object: message")."""
    offset = time.time() - time.monotonic()
    items = (k.json("get", "events", "-n", ns) or {}).get("items", [])
    out = []
    for e in items:
        stamp = e.get("eventTime") or e.get("lastTimestamp") or e.get("firstTimestamp")
        if not stamp:
            continue
        wall = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        what = f"{e['reason']} {e['involvedObject']['kind']}/{e['involvedObject']['name']}"
        out.append((wall - offset, f"{what}: {e.get('message', '')[:120]}"))
    return sorted(out)


def explain(failures: list[Any], selectors: SelectorWatch, events: list[tuple[float, str]]) -> str:
    """Each failed request next to the selector changes and events around it."""
    lines = []
    for f in failures[:10]:
        lines.append(f"failed request at {f.start:.2f}: {f.error}")
        for t, sel in selectors.changes:
            if abs(t - f.start) < 30:
                lines.append(
                    f"  selector {sel.get('bluegreen.dev/revision')} at {t - f.start:+.2f}s"
                )
        for t, text in events:
            if abs(t - f.start) < 10:
                lines.append(f"  {t - f.start:+.1f}s {text}")
    return "\n".join(lines)
