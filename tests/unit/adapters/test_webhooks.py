"""Webhook notifications over real sockets: a local receiver that answers, fails, hangs
or is not there at all. The reconciler's side (``notify``) must never wait."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bluegreen.adapters.check_targets import parse_allowed_hosts
from bluegreen.adapters.webhooks import Delivery, WebhookNotifier
from bluegreen.api.notifications import (
    NOTIFY_FORMAT_ANNOTATION,
    NOTIFY_WEBHOOK_ANNOTATION,
    Notification,
)
from bluegreen.api.status import ReleaseStatus
from bluegreen.core.notifications import Webhook

# The receiver, the client session and the notifier's task share one event loop.
pytestmark = pytest.mark.asyncio(loop_scope="session")

T = "2026-11-26T12:00:00Z"
DEPLOYING = ReleaseStatus(phase="Deploying", revision="77aa")
VERIFYING = ReleaseStatus(phase="Verifying", revision="77aa", message="checking")


@dataclass
class Receiver:
    """Answers each request with the next planned status (200 once the plan is used up);
    0 means: hang until the test ends."""

    plan: list[int] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.arrivals.append(time.monotonic())
        self.bodies.append(await request.json())
        status = self.plan.pop(0) if self.plan else 200
        if status == 0:
            await self.release.wait()
            status = 200
        if status == 302:
            raise web.HTTPFound("/elsewhere")
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/hook", state.handle)
    app.router.add_post("/elsewhere", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    state.release.set()
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


class Pauses:
    """Records backoff pauses and lets them pass at once (the pause length is the point)."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)


def body(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"namespace": "prod", "name": "shop", "annotations": annotations or {}}}


def note(phase: str = "Verifying") -> Notification:
    return Notification("shop", "prod", "77aa", phase, "Deploying", "Verifying", "", T)


async def run_until_drained(notifier: WebhookNotifier) -> None:
    notifier.start()
    await asyncio.wait_for(notifier.drained(), 30)


async def test_a_phase_change_reaches_the_operator_webhook(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    notifier = WebhookNotifier(session, webhooks=(Webhook(receiver.url),))
    notifier.notify(body(), DEPLOYING, VERIFYING)
    notifier.notify(body(), VERIFYING, VERIFYING)  # same phase: nothing to say
    await run_until_drained(notifier)
    assert [b["phase"] for b in receiver.bodies] == ["Verifying"]
    sent = receiver.bodies[0]
    assert {k: sent[k] for k in ("release", "namespace", "revision", "previousPhase")} == {
        "release": "shop",
        "namespace": "prod",
        "revision": "77aa",
        "previousPhase": "Deploying",
    }
    assert notifier.stats.sent == 1
    await notifier.stop()


async def test_a_release_adds_its_own_slack_webhook_on_an_allowed_host(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    notifier = WebhookNotifier(
        session, webhooks=(Webhook(receiver.url),), allowed=parse_allowed_hosts(["127.0.0.1"])
    )
    own = {NOTIFY_WEBHOOK_ANNOTATION: receiver.url.replace("/hook", "/elsewhere"),
           NOTIFY_FORMAT_ANNOTATION: "slack"}  # fmt: skip
    notifier.notify(body(own), DEPLOYING, VERIFYING)
    await run_until_drained(notifier)
    assert receiver.bodies[0]["phase"] == "Verifying"
    assert set(receiver.bodies[1]) == {"text"}
    assert "*prod/shop* Deploying → *Verifying*" in receiver.bodies[1]["text"]
    await notifier.stop()


@pytest.mark.parametrize(
    ("allowed", "url", "why"),
    [
        ([], "http://127.0.0.1:9/hook", "not in --notify-allowed-hosts"),
        (["hooks.example"], "http://127.0.0.1:9/hook", "not in --notify-allowed-hosts"),
        (["0.0.0.0/0"], "http://169.254.169.254/latest", "never reachable"),
        (["127.0.0.1"], "gopher://127.0.0.1/x", "not an http or https URL"),
    ],
)
async def test_release_webhooks_outside_the_policy_are_ignored(
    session: aiohttp.ClientSession, allowed: list[str], url: str, why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    notifier = WebhookNotifier(session, allowed=parse_allowed_hosts(allowed))
    notifier.notify(body({NOTIFY_WEBHOOK_ANNOTATION: url}), DEPLOYING, VERIFYING)
    assert notifier.stats.refused == 1
    assert why in caplog.text
    await run_until_drained(notifier)
    assert notifier.stats.sent == notifier.stats.failed == 0


async def test_server_errors_are_retried_with_backoff(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.plan = [500, 503, 429]
    pauses = Pauses()
    notifier = WebhookNotifier(session, webhooks=(Webhook(receiver.url),), sleep=pauses)
    notifier.submit(Delivery(note(), (Webhook(receiver.url),)))
    await run_until_drained(notifier)
    assert len(receiver.bodies) == 4
    assert pauses.seen == [1.0, 2.0, 4.0]
    assert (notifier.stats.sent, notifier.stats.failed) == (1, 0)
    await notifier.stop()


@pytest.mark.parametrize("status", [400, 404, 302])
async def test_a_refusal_is_not_retried_and_a_redirect_not_followed(
    receiver: Receiver, session: aiohttp.ClientSession, status: int
) -> None:
    receiver.plan = [status]
    pauses = Pauses()
    notifier = WebhookNotifier(session, sleep=pauses)
    notifier.submit(Delivery(note(), (Webhook(receiver.url),)))
    await run_until_drained(notifier)
    assert len(receiver.bodies) == 1
    assert pauses.seen == []
    assert notifier.stats.failed == 1
    await notifier.stop()


async def test_a_receiver_that_is_down_never_holds_the_reconciler(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    down = Webhook(closed_url())
    pauses = Pauses()
    notifier = WebhookNotifier(session, webhooks=(down, Webhook(receiver.url)), sleep=pauses)
    notifier.start()
    started = time.monotonic()
    for _ in range(5):
        notifier.notify(body(), DEPLOYING, VERIFYING)
    # notify() queued five notifications without a single await.
    assert time.monotonic() - started < 0.05
    await asyncio.wait_for(notifier.drained(), 30)
    # Every notification still reached the receiver that is up.
    assert len(receiver.bodies) == 5
    assert notifier.stats.failed == 5
    # Four attempts each for the first three, then one: the receiver counts as down.
    assert len(pauses.seen) == 3 * 3
    await notifier.stop()


async def test_a_hanging_receiver_costs_the_timeout_and_the_queue_stays_bounded(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.plan = [0] * 10
    notifier = WebhookNotifier(
        session, webhooks=(Webhook(receiver.url),), capacity=2, attempts=1, timeout=0.5
    )
    notifier.start()
    for phase in ("Verifying", "Switching", "Holding", "Complete"):
        notifier.submit(Delivery(note(phase), notifier.webhooks))
        await asyncio.sleep(0)  # let the worker take the first one
    assert notifier.stats.dropped == 1  # Switching: the oldest when Complete came
    await asyncio.wait_for(notifier.drained(), 30)
    assert [b["phase"] for b in receiver.bodies] == ["Verifying", "Holding", "Complete"]
    assert notifier.stats.failed == 3
    await notifier.stop()


async def test_stop_gives_the_queue_a_grace_period(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    notifier = WebhookNotifier(session, webhooks=(Webhook(receiver.url),))
    notifier.start()
    notifier.notify(body(), DEPLOYING, VERIFYING)
    await notifier.stop(grace=10)
    assert len(receiver.bodies) == 1


async def test_a_broken_status_never_raises_into_the_reconciler(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = WebhookNotifier(session, webhooks=(Webhook("http://127.0.0.1:9/x"),))
    notifier.notify({"metadata": None}, DEPLOYING, None)  # type: ignore[arg-type]
    assert "notification not queued" in caplog.text
