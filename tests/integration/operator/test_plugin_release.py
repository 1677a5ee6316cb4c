"""kubectl-bluegreen following a real release: the real operator process, the real
API server, KWOK pods, the demo app behind the HTTP checks.

The plugin runs as its own process where a terminal matters (``--watch`` on a
pseudo-terminal), and in-process elsewhere.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bluegreen.plugin import cli
from bluegreen.plugin.verdict import ExitCode
from tests.conftest import Cluster
from tests.integration.harness import App, Kubectl, Operator, Release, release

NAME = "shop"
HOLD = 120
JOB_CHECK = {
    "name": "e2e",
    "job": {
        "template": {
            "template": {
                "spec": {"containers": [{"name": "e2e", "image": "checker:1", "command": ["true"]}]}
            }
        },
        "timeoutSeconds": 60,
    },
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COUNTDOWN = re.compile(r"(\d+m\d+s|\d+m|\d+s) left \(deleteAfter")


def _holding(k: Kubectl, namespace: str, apps: dict[str, App]) -> tuple[Release, str, str]:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", replicas=2))
    rel.wait_condition("Ready")
    v1 = rel.revision()
    http = {"name": "home", "http": {"url": apps["v2"].url, "path": "/", "expectBody": "V2"}}
    rel.apply(
        release(NAME, "v2", apps["v2"].url, "V2", replicas=2, hold=HOLD, smoke=[http, JOB_CHECK])
    )
    holding = rel.wait_phase("Holding", timeout=90)
    return rel, v1, holding["revision"]


def _plugin_on_a_terminal(cluster: Cluster, *argv: str, deadline: float) -> str:
    """Run the plugin with its stdout on a pseudo-terminal; everything it drew."""
    controller, terminal = pty.openpty()
    env = {**cluster.env, "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "60"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bluegreen.plugin.cli", *argv],
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(terminal)
    drawn = b""
    try:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the plugin exited and closed the terminal
                    break
                if not chunk:
                    break
                drawn += chunk
            elif process.poll() is not None:
                break
        assert process.wait(timeout=10) == ExitCode.OK, drawn.decode(errors="replace")[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    return drawn.decode(errors="replace")


def test_the_tree_of_a_release_in_its_hold(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, v1, v2 = _holding(k, namespace, apps)
    kubeconfig = str(cluster.kubeconfig)
    assert cli.main(["-n", namespace, "--kubeconfig", kubeconfig, "status", NAME]) == ExitCode.OK
    page = capsys.readouterr().out
    lines = page.splitlines()
    assert lines[0].startswith(f"BlueGreenRelease  {namespace}/{NAME}  Holding  revision {v2}")
    active = next(i for i, line in enumerate(lines) if line.startswith(f"├── active  {v2}"))
    previous = next(i for i, line in enumerate(lines) if line.startswith(f"├── previous  {v1}"))
    assert "left (deleteAfter" in lines[previous]
    active_branch = lines[active + 1 : previous]
    # Deployment, then its two pods, ready (KWOK runs them), then the checks and the Job.
    assert active_branch[0].startswith(f"│   ├── Deployment  {NAME}-{v2}  2/2 ready")
    pods = [line for line in active_branch if "Pod  " in line]
    assert len(pods) == 2 and all("✔  Pod  " in p and "  Ready  Running" in p for p in pods)
    assert any("check  home  smoke/http  Passed" in line for line in active_branch)
    assert any("check  e2e  smoke/job  Passed" in line for line in active_branch)
    previous_branch = lines[previous + 1 :]
    assert previous_branch[0].split("── ", 1)[1].startswith(f"Deployment  {NAME}-{v1}  2/2 ready")
    assert sum("Pod  " in line for line in previous_branch[:3]) == 2

    assert cli.main(["list", "-n", namespace, "--kubeconfig", kubeconfig]) == ExitCode.OK
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:7] == [NAME, "Holding", v2, v2, "-", v1, "2/2"]


def test_watch_on_a_terminal_redraws_the_countdown_every_second(
    cluster: Cluster, k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    _holding(k, namespace, apps)
    drawn = _plugin_on_a_terminal(
        cluster,
        "status", NAME, "-n", namespace, "--watch", "--timeout", "5",
        "--kubeconfig", str(cluster.kubeconfig),
        deadline=60,
    )  # fmt: skip
    plain = ANSI.sub("", drawn)
    countdowns = COUNTDOWN.findall(plain)
    # The release does not change during the hold: only the redraw moves the countdown.
    assert len(set(countdowns)) >= 4, plain[-3000:]
    assert "\x1b[" in drawn  # colour on a terminal

    no_color = _plugin_on_a_terminal(
        cluster,
        "status", NAME, "-n", namespace, "--no-color",
        "--kubeconfig", str(cluster.kubeconfig),
        deadline=60,
    )  # fmt: skip
    assert "\x1b[" not in no_color
    assert f"{namespace}/{NAME}  Holding" in no_color


def test_rollback_then_wait_reports_the_rollback_with_1(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rel, v1, _ = _holding(k, namespace, apps)
    kubeconfig = str(cluster.kubeconfig)
    assert cli.main(["rollback", NAME, "-n", namespace, "--kubeconfig", kubeconfig]) == 0
    code = cli.main(
        ["status", NAME, "-n", namespace, "--wait", "--timeout", "60", "--kubeconfig", kubeconfig]
    )
    assert code == ExitCode.FAILED
    out = capsys.readouterr().out
    assert f"BlueGreenRelease  {namespace}/{NAME}  RolledBack" in out
    assert rel.selector()["bluegreen.dev/revision"] == v1
