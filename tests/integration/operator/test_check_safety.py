"""Checks reach only what they may, and say no more than pass/fail and why.

The operator runs as its own process started with ``--check-allowed-hosts
127.0.0.1`` (the harness's default): explicit URLs may name the local demo app,
never a cloud metadata address nor the operator's own metrics port.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.harness import REPO, App, Kubectl, Operator, Release, release, wait_for

SECRET = "s3cr3t-t0ken"


def _smoke(name: str, url: str, path: str = "/", **extra: Any) -> dict[str, Any]:
    return {"name": name, "http": {"url": url, "path": path, "attempts": 3, **extra}}


def _everything_said(k: Kubectl, rel: Release) -> str:
    """Status and event messages of the release: all a reader of the CR can see."""
    events = k.json(
        "get",
        "events",
        "-n",
        rel.ns,
        "--field-selector",
        f"involvedObject.name={rel.name},involvedObject.kind=BlueGreenRelease",
    )
    messages = [e.get("message", "") for e in (events or {}).get("items", [])]
    return json.dumps(rel.status()) + "\n" + "\n".join(messages)


def test_metadata_and_own_metrics_port_are_refused(
    k: Kubectl, namespace: str, operator: Operator
) -> None:
    # The metrics endpoint answers (so a request there would pass on status alone).
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics") as r:
        assert r.status == 200
    rel = Release(k, namespace, "probe")
    rel.apply(
        release(
            "probe",
            "v1",
            "",
            "",
            smoke=[
                _smoke("metadata", "http://169.254.169.254", f"/latest/meta-data?token={SECRET}"),
                _smoke(
                    "metrics",
                    f"http://127.0.0.1:{operator.metrics_port}",
                    f"/metrics?token={SECRET}",
                    expectBody="bluegreen_",
                ),
            ],
        )
    )
    stalled = rel.wait_condition("Stalled")
    assert stalled["reason"] == "SmokeCheckFailed"
    status = rel.status()
    assert status["phase"] == "Failed"
    checks = {c["name"]: c for c in status["checks"] if c["revision"] == status["revision"]}
    # Refused at once: no retries, and for the metadata address not even an attempt.
    assert checks["metadata"]["phase"] == "Failed"
    assert checks["metadata"]["attempts"] == 0
    assert checks["metadata"]["message"] == "url host not allowed: 169.254.169.254"
    assert checks["metrics"]["phase"] == "Failed"
    assert checks["metrics"]["attempts"] == 1
    assert checks["metrics"]["message"] == (
        f"GET http://127.0.0.1:{operator.metrics_port}/metrics: "
        "address not allowed (the operator's own port): 127.0.0.1"
    )
    said = _everything_said(k, rel)
    assert SECRET not in said
    assert "bluegreen_reconcile" not in said and "# HELP" not in said  # no metrics body
    assert all(len(c["message"]) <= 200 for c in status["checks"])


def test_url_with_credentials_is_an_invalid_check(
    k: Kubectl, namespace: str, operator: Operator
) -> None:
    rel = Release(k, namespace, "creds")
    body = release(
        "creds", "v1", "", "", smoke=[_smoke("home", f"http://admin:{SECRET}@127.0.0.1:1")]
    )
    applied = k.run(
        "apply",
        "-f",
        "-",
        stdin=json.dumps({**body, "metadata": {"name": "creds", "namespace": namespace}}),
        check=False,
    )
    assert SECRET not in applied.replace(f"admin:{SECRET}@", "")  # kubectl may echo input
    if "created" not in applied:
        return  # the CRD schema refused it already: nothing reached the operator
    stalled = rel.wait_condition("Stalled")
    assert stalled["reason"] == "InvalidCheck"
    assert "must not carry credentials" in stalled["message"]
    assert SECRET not in _everything_said(k, rel)
    assert rel.deployments() == {}, "an invalid spec starts nothing"


def test_allowed_local_url_passes(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = Release(k, namespace, "local")
    rel.apply(
        release(
            "local",
            "v1",
            "",
            "",
            smoke=[
                _smoke("home", apps["v1"].url, expectBody="V1"),
                _smoke("regex", apps["v1"].url, expectBodyRegex=r"V\d"),
            ],
        )
    )
    rel.wait_condition("Ready")
    status = rel.status()
    passed = [c for c in status["checks"] if c["revision"] == status["revision"]]
    assert sorted(c["name"] for c in passed) == ["home", "regex"]
    assert all(c["phase"] == "Passed" and c["attempts"] == 1 for c in passed)
    wait_for("liveness answers", lambda: "bluegreen_" in operator.metrics())


@pytest.fixture(scope="module")
def hostile() -> Iterator[dict[str, str]]:
    """The misbehaving servers of tests/integration/hostile_servers.py, as base URLs."""
    servers = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.hostile_servers"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert servers.stdout is not None
    ports: dict[str, int] = json.loads(servers.stdout.readline())
    yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    servers.terminate()
    servers.wait(timeout=10)


def test_hostile_checks_fail_cleanly_while_liveness_keeps_answering(
    k: Kubectl, namespace: str, operator: Operator, hostile: dict[str, str]
) -> None:
    rel = Release(k, namespace, "hostile")
    rel.apply(
        release(
            "hostile",
            "v1",
            "",
            "",
            smoke=[
                _smoke("trickle", hostile["trickle"], timeoutSeconds=3, attempts=1),
                _smoke("slow-headers", hostile["slow_headers"], timeoutSeconds=3, attempts=1),
                _smoke("big-body", hostile["big_body"], expectBody="V2"),
                _smoke("regex", hostile["regex_body"], expectBodyRegex="(a+)+$"),
                _smoke("chunks", hostile["endless_chunks"], expectBody="V2", attempts=1),
                _smoke("gzip-bomb", hostile["gzip_bomb"], expectBody="x", attempts=1),
                _smoke("headers", hostile["many_headers"], attempts=1),
                _smoke("redirect", hostile["redirect"], attempts=1),
                _smoke("healthy", hostile["healthy"], expectBody="App V2"),
            ],
        )
    )
    healthz = f"http://127.0.0.1:{operator.liveness_port}/healthz"
    probes: list[float] = []
    deadline = time.monotonic() + 90
    # Probe liveness every 20 ms until the checks' verdict is in the status.
    while rel.status().get("phase") != "Failed":
        assert time.monotonic() < deadline, "the hostile checks never finished"
        for _ in range(10):
            started = time.monotonic()
            with urllib.request.urlopen(healthz, timeout=5) as response:
                assert response.status == 200
            probes.append(time.monotonic() - started)
            time.sleep(0.02)
    print(f"liveness during hostile checks: {len(probes)} probes, max {max(probes) * 1000:.0f} ms")
    status = rel.status()
    checks = {c["name"]: c for c in status["checks"] if c["revision"] == status["revision"]}
    expected = {
        "trickle": "timed out after 3.",
        "slow-headers": "timed out after 3.",
        "big-body": "body lacks the expected text",
        "regex": "body does not match expectBodyRegex",
        "chunks": "body lacks the expected text",
        "gzip-bomb": "body lacks the expected text",
        "headers": "ClientResponseError",  # too many headers: a protocol error, by class
        "redirect": "status 302 (redirects are not followed), expected 200",
    }
    for name, says in expected.items():
        assert checks[name]["phase"] == "Failed", checks[name]
        assert says in checks[name]["message"], checks[name]
        assert len(checks[name]["message"]) <= 200
    assert checks["healthy"]["phase"] == "Passed"
