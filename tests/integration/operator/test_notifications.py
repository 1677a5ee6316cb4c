"""Webhook notifications from the real operator process during a real release: a
receiver that is up, one that is down, and a release's own Slack-form webhook."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "shop"


class Receiver:
    """A local HTTP server that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    team, release_own = Receiver(), Receiver()
    yield team, release_own
    team.stop()
    release_own.stop()


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


@pytest.fixture
def notifying_operator(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    tmp_path: Path,
    receivers: tuple[Receiver, Receiver],
) -> Iterator[Operator]:
    team, _ = receivers
    process = Operator(
        cluster.env,
        namespace,
        tmp_path / "operator.log",
        "--infrastructure", "kubernetes", "--drift-interval", "0",
        # The first receiver is down for the whole test; the release must not notice.
        "--notify-webhook", closed_url(),
        "--notify-webhook", team.url,
        "--notify-allowed-hosts", "127.0.0.1",
    )  # fmt: skip
    process.start()
    yield process
    process.kill()
    print(process.log.read_text()[-3000:])


def test_a_release_notifies_every_phase_it_moves_through(
    k: Kubectl,
    namespace: str,
    notifying_operator: Operator,
    apps: dict[str, App],
    receivers: tuple[Receiver, Receiver],
) -> None:
    team, release_own = receivers
    rel = Release(k, namespace, NAME)
    body = release(NAME, "v1", apps["v1"].url, "V1", replicas=1, hold=2)
    body["metadata"]["annotations"] = {
        "bluegreen.dev/notify-webhook": release_own.url,
        "bluegreen.dev/notify-format": "slack",
    }
    rel.apply(body)
    rel.wait_condition("Ready", timeout=90)
    rel.apply({**release(NAME, "v2", apps["v2"].url, "V2", replicas=1, hold=2),
               "metadata": body["metadata"]})  # fmt: skip
    rel.wait_phase("Complete", timeout=90)
    v2 = rel.revision()

    def reached(phase: str, revision: str) -> bool:
        return any(b["phase"] == phase and b["revision"] == revision for b in team.bodies)

    wait_for("the Complete notification of v2", lambda: reached("Complete", v2), timeout=60)
    ours = [b for b in team.bodies if b["revision"] == v2]
    phases = [b["phase"] for b in ours]
    # Each phase change once, in order (the phases a release passes quickly may be skipped
    # by a step that moves two at once, never repeated).
    assert phases[-1] == "Complete"
    assert "Holding" in phases and len(phases) == len(set(phases))
    for sent in ours:
        assert {"release", "namespace", "revision", "phase", "reason", "message"} <= set(sent)
        assert (sent["release"], sent["namespace"]) == (NAME, namespace)
    holding = next(b for b in ours if b["phase"] == "Holding")
    assert holding["previousPhase"] == phases[phases.index("Holding") - 1]

    # The release's own webhook got the same changes, as Slack text.
    wait_for(
        "the release's own webhook",
        lambda: any("→ *Complete*" in b.get("text", "") for b in release_own.bodies),
        timeout=30,
    )
    assert all(set(b) == {"text"} for b in release_own.bodies)
    assert f"*{namespace}/{NAME}*" in release_own.bodies[-1]["text"]
