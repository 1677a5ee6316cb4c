"""``--log-format json``: the real operator process, every line it writes parses alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cluster
from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "shop"


@pytest.fixture
def json_operator(
    cluster: Cluster, k: Kubectl, namespace: str, tmp_path: Path
) -> Iterator[Operator]:
    process = Operator(
        cluster.env,
        namespace,
        tmp_path / "operator.log",
        "--infrastructure", "kubernetes", "--drift-interval", "0", "--log-format", "json",
    )  # fmt: skip
    process.start()
    yield process
    process.kill()


def test_every_line_is_a_json_object(
    k: Kubectl, namespace: str, json_operator: Operator, apps: dict[str, App]
) -> None:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", smoke=[], replicas=1))
    rel.wait_condition("Ready")
    wait_for("the operator to log", lambda: json_operator.log.stat().st_size > 0, timeout=30)
    lines = json_operator.log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    assert entries, "the operator logged nothing"
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry)
    assert any(e["logger"].startswith("kopf") for e in entries)
