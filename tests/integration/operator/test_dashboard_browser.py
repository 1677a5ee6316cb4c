"""``kubectl bluegreen dashboard`` in a real browser during a real release.

The dashboard runs as its own process with the test's kubeconfig (or a limited
one), the operator as its own process, and Debian's chromium, driven by
Playwright through the system browser's path (Playwright never downloads one),
opens the page. Every wait is on a condition of the page, with a deadline.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bluegreen.plugin.verdict import ExitCode
from tests.conftest import Cluster
from tests.integration.harness import (
    App,
    Kubectl,
    Operator,
    Release,
    kubeconfig_with_token,
    release,
)

CHROMIUM = Path("/usr/bin/chromium")
NAME = "shop"
HOLD = 120
URL = re.compile(rb"at (http://127\.0\.0\.1:\d+/)")
PAGE_TIMEOUT_MS = 90_000
# Every phase the release card shows, in order, without repeats; the page keeps it.
RECORD_PHASES = """
() => {
  window.__phases = [];
  window.__sameDocument = true;
  const record = () => {
    const card = document.querySelector("section.release");
    const phase = card && card.dataset.phase;
    if (phase && window.__phases[window.__phases.length - 1] !== phase) window.__phases.push(phase);
  };
  new MutationObserver(record).observe(document.getElementById("releases"), {childList: true});
  record();
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: hack/install-system-deps.sh installs it")
    # The system browser only: Playwright must never fetch one of its own.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


class Dashboard:
    """``kubectl bluegreen dashboard --port 0`` as a process; ``url`` is what it printed."""

    def __init__(self, env: dict[str, str], *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bluegreen.plugin.cli", "dashboard", "--port", "0", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.url = self._printed_url(deadline=30)

    def _printed_url(self, deadline: float) -> str:
        assert self.process.stdout is not None
        printed = b""
        end = time.monotonic() + deadline
        while time.monotonic() < end and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                printed += os.read(self.process.stdout.fileno(), 4096)
                found = URL.search(printed)
                if found:
                    return found.group(1).decode()
        self.stop()
        raise AssertionError(f"the dashboard printed no URL: {printed.decode(errors='replace')}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def dashboards() -> Iterator[list[Dashboard]]:
    started: list[Dashboard] = []
    yield started
    for dashboard in started:
        dashboard.stop()


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


def test_a_release_seen_live_in_the_browser(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    browser: Browser,
    dashboards: list[Dashboard],
) -> None:
    began = time.monotonic()
    kubeconfig = str(cluster.kubeconfig)
    dashboards.append(Dashboard(cluster.env, "-n", namespace, "--kubeconfig", kubeconfig))
    page = _open(browser, dashboards[0].url)
    expect(page.locator("#releases .empty")).to_have_text(
        f"No BlueGreenRelease in namespace {namespace}."
    )
    expect(page.locator("#scope")).to_contain_text(f"namespace {namespace}")
    page.evaluate(RECORD_PHASES)

    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", replicas=2))
    card = page.locator(f"section.release[data-key='{namespace}/{NAME}']")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-phase", "Complete")
    v1 = rel.revision()

    http = {"name": "home", "http": {"url": apps["v2"].url, "path": "/", "expectBody": "V2"}}
    rel.apply(release(NAME, "v2", apps["v2"].url, "V2", replicas=2, hold=HOLD, smoke=[http]))
    expect(card).to_have_attribute("data-phase", "Holding")
    v2 = rel.revision()
    assert v2 != v1
    expect(card.locator(".phase")).to_have_text("Holding")
    expect(card.locator("[data-field=active] dd")).to_have_text(v2)
    expect(card.locator("[data-field=previous] dd")).to_have_text(v1)
    expect(card.locator("[data-field=hold] dd")).to_contain_text("left (deleteAfter")

    timeline = card.locator("svg.timeline")
    drawn = {v1: ("deploy", "checks", "switch"), v2: ("deploy", "checks", "switch", "hold")}
    for revision, steps in drawn.items():
        for step in steps:
            group = timeline.locator(f"g[data-step={step}][data-revision='{revision}']")
            expect(group).to_have_count(1)
    expect(timeline.locator(f"g[data-step=hold][data-revision='{v2}']")).to_have_attribute(
        "data-state", "ongoing"
    )
    expect(timeline.locator(f"g[data-step=check][data-revision='{v2}']").first).to_be_attached()
    events = card.locator("table.events")
    for reason in ("CandidateCreated", "CandidateReady", "TrafficSwitched"):
        expect(events.locator(f"tr[data-reason={reason}]").first).to_be_visible()

    # A rollback during the hold: the card and the timeline follow.
    # As its own process: Playwright's sync API holds this thread's event loop.
    rollback = subprocess.run(
        [sys.executable, "-m", "bluegreen.plugin.cli", "rollback", NAME, "-n", namespace],
        env={**cluster.env, "KUBECONFIG": kubeconfig},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rollback.returncode == ExitCode.OK, rollback.stderr
    expect(card).to_have_attribute("data-phase", "RolledBack")
    expect(timeline.locator(f"g[data-step=rollback][data-revision='{v2}']")).to_have_count(1)
    expect(timeline.locator(f"g[data-step=hold][data-revision='{v2}']")).to_have_attribute(
        "data-state", "failed"
    )
    expect(events.locator("tr[data-reason=RolledBack]").first).to_be_visible()

    # All of it on the page first loaded: pushed by the server, never reloaded.
    assert page.evaluate("window.__sameDocument") is True
    phases: list[str] = page.evaluate("window.__phases")
    seen = iter(phases)
    assert all(phase in seen for phase in ("Complete", "Holding", "RolledBack")), phases
    assert phases[-1] == "RolledBack", phases
    page.close()
    print(f"browser test of the dashboard: {time.monotonic() - began:.1f}s; phases {phases}")


def test_a_namespace_without_rights_shows_the_refusal(
    cluster: Cluster,
    k: Kubectl,
    namespace: str,
    browser: Browser,
    dashboards: list[Dashboard],
    tmp_path: Path,
) -> None:
    # A viewer who may read releases and Events in `namespace`, and nothing elsewhere.
    k.run("create", "serviceaccount", "viewer", "-n", namespace)
    k.run(
        "create", "role", "release-viewer", "-n", namespace, "--verb=get,list,watch",
        "--resource=bluegreenreleases.bluegreen.dev,events",
    )  # fmt: skip
    k.run(
        "create", "rolebinding", "release-viewer", "-n", namespace,
        "--role=release-viewer", f"--serviceaccount={namespace}:viewer",
    )  # fmt: skip
    token = k.run("create", "token", "viewer", "-n", namespace, "--duration=10m").strip()
    limited = str(kubeconfig_with_token(cluster.kubeconfig, tmp_path / "limited", token, namespace))
    Release(k, namespace, NAME).apply(release(NAME, "v1", "http://127.0.0.1:1", "V1"))
    other = f"it-{uuid.uuid4().hex[:8]}"
    k.run("create", "namespace", other)
    try:
        for argv in (["-n", other], ["-A"]):
            dashboards.append(Dashboard(cluster.env, *argv, "--kubeconfig", limited))
            page = _open(browser, dashboards[-1].url)
            problems = page.locator("#problems li.problem")
            expect(problems.first).to_contain_text("bluegreenreleases: forbidden: ")
            expect(problems).to_have_count(2)  # the releases and the Events alike
            expect(problems.nth(1)).to_contain_text("events: forbidden: ")
            expect(page.locator("section.release")).to_have_count(0)
            page.close()

        # Where the Role grants reading, the same credentials show the release.
        dashboards.append(Dashboard(cluster.env, "--kubeconfig", limited))
        page = _open(browser, dashboards[-1].url)
        expect(page.locator(f"section.release[data-key='{namespace}/{NAME}']")).to_be_visible()
        expect(page.locator("#problems li")).to_have_count(0)
        page.close()
    finally:
        k.run("delete", "namespace", other, "--wait=false", check=False)
