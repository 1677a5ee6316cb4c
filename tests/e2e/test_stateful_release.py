"""A stateful release on the real node: expand, switch, rollback, contract, with a
real PostgreSQL and live reads and writes through the stable Service.

Everything is real: Debian's PostgreSQL runs as a local server process that the
node's pods reach at the node's address (tests/e2e/postgres.py); the demo app
runs as pods on the real node in its database mode (APP_DATABASE_URL from the
Secret shop-db); the hooks are Jobs running the app image's own migrations
(``app.py --migrate STEP``); the operator runs as a process; a load generator
sends writes (POST /items) and reads (GET /items) to the stable Service's
ClusterIP, through kube-proxy, one new connection per request, throughout.

The releases are the samples of docs/stateful-releases.md
(docs/examples/stateful-release-v1.yaml and -v2.yaml), applied as they are:

1. v1: its pre-switch hook creates the table; v1 writes and reads rows.
2. v1 -> v2: the expand hook adds ``written_by`` as nullable before the switch;
   v2 writes it; no request fails.
3. During v2's hold, the spec goes back to v1: v1 serves again, on the expanded
   schema, writing rows without the column; no request fails; no contract.
4. v2 again, to the end of its hold: v1's Deployment is deleted, then the
   contract hook backfills the rows v1 wrote and makes the column NOT NULL.

Asserted per step: zero failed requests. At the end: the column is NOT NULL,
and every write the app acknowledged is in the table, its ``written_by`` the
version that acknowledged it. Requests sent and failed per step are printed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Cluster
from tests.e2e.conftest import NODE_NAME, RealNode, watched_namespace
from tests.e2e.postgres import LocalPostgres, pg_bin_dir
from tests.e2e.test_seed_story import SelectorWatch
from tests.e2e.traffic import (
    MAX_MIXED_S,
    LoadGenerator,
    Request,
    Sample,
    SwitchReport,
    analyse_switch,
    get,
)
from tests.integration.harness import (
    REPO,
    Kubectl,
    Release,
    free_port,
    wait_for,
)

pytestmark = pytest.mark.node

SAMPLES = {v: REPO / "docs" / "examples" / f"stateful-release-{v}.yaml" for v in ("v1", "v2")}
SECRET = "shop-db"
# What every answer of /items starts with, per version (the app's JSON, sorted keys).
SAYS = {v: f'"version": "{v}"' for v in ("v1", "v2")}
PLAN = (
    Request("POST", "/items", json.dumps({"text": "load"}).encode()),
    Request("GET", "/items?limit=5"),
)
AFTER_EACH_STEP = 300  # requests served once a step's end state is reached


def cluster_dir() -> Path:
    return Path(os.environ.get("BLUEGREEN_CLUSTER_DIR", REPO / ".cluster"))


def node_address(k: Kubectl) -> str:
    """The real node's InternalIP: the pods' gateway, a host address they reach."""
    node = k.json("get", "node", NODE_NAME)
    (address,) = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
    return str(address)


@pytest.fixture
def postgres(cluster: Cluster, real_node: RealNode) -> Iterator[LocalPostgres]:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        pytest.fail("no PostgreSQL under /usr/lib/postgresql: run hack/install-system-deps.sh")
    k = Kubectl(cluster.env)
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    pg = LocalPostgres(
        bin_dir,
        cluster_dir() / "postgres" / name,
        listen=node_address(k),
        port=free_port(),
        # The node's pods (hack/node/lib.sh: BLUEGREEN_REAL_NODE_POD_SUBNET).
        clients=os.environ.get("BLUEGREEN_REAL_NODE_POD_SUBNET", "198.18.200.0/24"),
        name="shop",
    )
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def setting(
    cluster: Cluster, real_node: RealNode, postgres: LocalPostgres, tmp_path: Path
) -> Iterator[tuple[Kubectl, str]]:
    """A namespace with the Secret naming the database, and the operator watching it."""
    with watched_namespace(cluster, "e2e-pg", tmp_path / "operator.log") as (k, ns, operator):
        url = postgres.url(node_address(k))
        secret = ["create", "secret", "generic", SECRET, "-n", ns]
        k.run(*secret, f"--from-literal=APP_DATABASE_URL={url}")
        operator.start()
        yield k, ns


def sample(version: str) -> dict[str, Any]:
    return dict(yaml.safe_load(SAMPLES[version].read_text(encoding="utf-8")))


def hook_line(rel: Release, point: str, name: str, revision: str) -> dict[str, Any]:
    for line in rel.status().get("hooks") or []:
        if (line["point"], line["name"], line["revision"]) == (point, name, revision):
            return dict(line)
    return {}


def hook_succeeded(rel: Release, point: str, name: str, revision: str) -> dict[str, Any]:
    line = hook_line(rel, point, name, revision)
    assert line.get("phase") != "Failed", line
    return line if line.get("phase") == "Succeeded" else {}


def serving(rel: Release) -> str:
    return str((rel.status().get("active") or {}).get("revision", ""))


def column(pg: LocalPostgres) -> list[list[str]]:
    """[[is_nullable]] of items.written_by, [] while it does not exist."""
    return pg.query(
        "SELECT is_nullable FROM information_schema.columns "
        "WHERE table_name = 'items' AND column_name = 'written_by'"
    )


@dataclass(frozen=True)
class Step:
    title: str
    samples: list[Sample]

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def line(self) -> str:
        writes = sum(1 for s in self.samples if s.method == "POST")
        return (
            f"{self.title}: sent={len(self.samples)} (writes {writes}, "
            f"reads {len(self.samples) - writes}) failed={len(self.failures)}"
        )


def traffic_after(load: LoadGenerator, what: str, count: int = AFTER_EACH_STEP) -> None:
    mark = load.count()
    wait_for(f"{count} requests {what}", lambda: load.count() >= mark + count, timeout=120)


def answered_by(load: LoadGenerator, version: str, since: float) -> int:
    return sum(1 for s in load.samples if s.start >= since and s.ok and SAYS[version] in s.body)


def release_v1(k: Kubectl, ns: str, rel: Release, pg: LocalPostgres) -> tuple[str, str]:
    """Step 1: v1, its table made by its own pre-switch hook. Returns (v1, ClusterIP)."""
    rel.apply(sample("v1"))
    rel.wait_condition("Ready", timeout=240)
    v1 = rel.revision()
    assert hook_succeeded(rel, "preSwitch", "create-table", v1)
    assert column(pg) == []
    cluster_ip = str(k.json("get", "svc", rel.name, "-n", ns)["spec"]["clusterIP"])
    wait_for("v1's /items through the stable Service", lambda: get(cluster_ip, 80, "/items").ok)
    return v1, cluster_ip


def switch_to_v2(rel: Release, pg: LocalPostgres, load: LoadGenerator, v1: str) -> str:
    """Step 2: the expand hook, then the switch; v2 writes the new column. Returns v2."""
    since = time.monotonic()
    rel.apply(sample("v2"))
    wait_for("v2 serving", lambda: serving(rel) not in ("", v1), timeout=240)
    v2 = serving(rel)
    rel.wait_phase("Holding", timeout=60)
    expand = hook_succeeded(rel, "preSwitch", "add-column", v2)
    assert expand and expand["finishedAt"] <= rel.status()["active"]["switchedAt"]
    assert column(pg) == [["YES"]]
    wait_for("v2 answers", lambda: answered_by(load, "v2", since) >= AFTER_EACH_STEP, timeout=60)
    return v2


def roll_back_to_v1(rel: Release, pg: LocalPostgres, load: LoadGenerator, v1: str, v2: str) -> None:
    """Step 3: the spec back to v1 during v2's hold; v1 serves on the expanded schema."""
    since = time.monotonic()
    assert rel.status()["phase"] == "Holding", "the rollback must come during the hold"
    rel.apply(sample("v1"))
    wait_for("v1 serving again", lambda: serving(rel) == v1, timeout=60)
    wait_for("v1 answers", lambda: answered_by(load, "v1", since) >= AFTER_EACH_STEP, timeout=60)
    rel.wait_condition("Ready", timeout=120)
    wait_for("v2's Deployment deleted", lambda: v2 not in rel.deployments(), timeout=60)
    assert not hook_line(rel, "postCleanup", "require-column", v2), "contract after a rollback"
    assert column(pg) == [["YES"]]
    traffic_after(load, "after the rollback")


def v2_to_the_end(rel: Release, load: LoadGenerator, v1: str, v2: str) -> None:
    """Step 4: v2 again, its hold to the end: v1 deleted, then the contract hook.
    The expand hook, done for this revision already, does not run again."""
    expand = hook_line(rel, "preSwitch", "add-column", v2)
    rel.apply(sample("v2"))
    wait_for(
        "the contract hook",
        lambda: hook_succeeded(rel, "postCleanup", "require-column", v2),
        timeout=300,
    )
    assert serving(rel) == v2 and v1 not in rel.deployments()
    assert hook_line(rel, "preSwitch", "add-column", v2) == expand
    rel.wait_condition("Ready", timeout=60)
    traffic_after(load, "after the contract")


def hook_times(rel: Release, v1: str, v2: str) -> str:
    """Each hook's run, from its status line (whole seconds)."""
    lines = []
    for point, name, revision in (
        ("preSwitch", "create-table", v1),
        ("preSwitch", "add-column", v2),
        ("postCleanup", "require-column", v2),
    ):
        line = hook_line(rel, point, name, revision)
        took = stamp(line["finishedAt"]) - stamp(line["startedAt"])
        lines.append(f"{name} {line['phase']} in {took.total_seconds():.0f}s")
    return ", ".join(lines)


def stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def report(
    samples: list[Sample], marks: list[float], selectors: SelectorWatch, v1: str, v2: str
) -> tuple[list[Step], list[SwitchReport], list[str]]:
    """The steps between ``marks`` (the applies of v2, v1, v2), and each switch."""
    t2, t3, t4 = marks
    steps = [
        Step("v1 serving", [s for s in samples if s.start < t2]),
        Step("v1 -> v2 (expand, switch, hold)", [s for s in samples if t2 <= s.start < t3]),
        Step("rollback to v1 during the hold", [s for s in samples if t3 <= s.start < t4]),
        Step("v2 again, v1 deleted, contract", [s for s in samples if t4 <= s.start]),
    ]
    changes = selectors.since(t2)
    revisions = [str(sel.get("bluegreen.dev/revision")) for _, sel in changes]
    print(f"[stateful] revisions v1={v1} v2={v2}; the stable Service selected {revisions}")
    for step in steps:
        print(f"[stateful] {step.line()}")
    switches: list[SwitchReport] = []
    if len(changes) == 3:
        olds = [SAYS["v1"], SAYS["v2"], SAYS["v1"]]
        for (at, _), step, old in zip(changes, steps[1:], olds, strict=True):
            new = SAYS["v2"] if old == SAYS["v1"] else SAYS["v1"]
            switches.append(analyse_switch(step.samples, at, old=old, new=new))
            print(f"[stateful] switch in {step.title!r}: {switches[-1].summary()}")
    return steps, switches, revisions


def test_expand_switch_rollback_contract_with_live_reads_and_writes(
    setting: tuple[Kubectl, str], postgres: LocalPostgres
) -> None:
    k, ns = setting
    pg = postgres
    rel = Release(k, ns, "shop")
    started = time.monotonic()
    v1, cluster_ip = release_v1(k, ns, rel, pg)
    with (
        SelectorWatch(k, ns, rel.name) as selectors,
        LoadGenerator(cluster_ip, 80, workers=4, max_seconds=900, pause=0.01, plan=PLAN) as load,
    ):
        wait_for("the selector watch", lambda: selectors.changes, timeout=30)
        traffic_after(load, "on v1")
        marks = [time.monotonic()]
        v2 = switch_to_v2(rel, pg, load, v1)
        marks.append(time.monotonic())
        roll_back_to_v1(rel, pg, load, v1, v2)
        marks.append(time.monotonic())
        v2_to_the_end(rel, load, v1, v2)
        samples = load.stop()

    steps, switches, revisions = report(samples, marks, selectors, v1, v2)
    print(f"[stateful] hooks: {hook_times(rel, v1, v2)}")
    failed = sum(len(s.failures) for s in steps)
    took = time.monotonic() - started
    print(f"[stateful] whole run: sent={len(samples)} failed={failed} in {took:.0f}s")
    assert revisions == [v2, v1, v2]
    for step in steps:
        assert step.failures == [], (step.title, step.failures[:5])
    for switch in switches:
        assert switch.mixed_s < MAX_MIXED_S, switch.summary()
    # The contract: the column is required, and every write the app acknowledged is
    # in the table, attributed to the version that made it: v2's by v2 itself, v1's
    # (before v2 and after the rollback, on the expanded schema) by the backfill.
    assert column(pg) == [["NO"]]
    stored = {row[0]: row[1] for row in pg.query("SELECT id, written_by FROM items")}
    acknowledged = {
        str(answer["id"]): answer["version"]
        for s in samples
        if s.method == "POST" and s.ok
        for answer in [json.loads(s.body)]
    }
    by = {v: sum(1 for w in stored.values() if w == v) for v in ("v1", "v2")}
    print(f"[stateful] rows: {len(stored)}, written_by v1 {by['v1']} (backfilled), v2 {by['v2']}")
    assert {i: stored.get(i) for i in acknowledged} == acknowledged
    after_rollback = [s for s in steps[2].samples if s.method == "POST" and SAYS["v1"] in s.body]
    assert after_rollback, "v1 acknowledged no write after the rollback"
