"""Webhook notifications: a bounded queue the reconciler fills without waiting, drained
by one background task that POSTs with retries and backoff.

Nothing here can hold a release up: ``notify`` never awaits and never raises; a
full queue drops its oldest entry (the newest state matters most); a receiver
that keeps failing gets one attempt per notification until it answers again,
so a dead receiver costs each notification one timeout, not the whole backoff.
Delivery is at most once: a notification lost to a crash is not re-sent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from bluegreen.adapters.check_targets import AllowedHosts, never_reachable, parse_address
from bluegreen.api.notifications import Notification
from bluegreen.api.status import ReleaseStatus
from bluegreen.api.timefmt import format_time
from bluegreen.core.notifications import Webhook, phase_change, release_webhook

log = logging.getLogger(__name__)

QUEUE_CAPACITY: Final = 256
ATTEMPTS: Final = 4
BACKOFF_SECONDS: Final = (1.0, 2.0, 4.0)
"""Pauses between attempts (the last repeats); a deadline-free wait is fine here: the
pause is the point, and it runs on the background task, never on a release's."""
REQUEST_TIMEOUT_SECONDS: Final = 5.0
OPEN_AFTER_FAILURES: Final = 3
"""Notifications in a row a receiver failed before it gets one attempt each."""
STOP_GRACE_SECONDS: Final = 5.0
USER_AGENT: Final = "bluegreen-operator (webhook)"


@dataclass(frozen=True)
class Delivery:
    notification: Notification
    webhooks: tuple[Webhook, ...]


@dataclass
class Stats:
    """Counts since start, for logs and tests."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    refused: int = 0
    """Release webhooks refused by the host policy or malformed."""


class RetryableError(Exception):
    pass


@dataclass
class WebhookNotifier:
    session: aiohttp.ClientSession
    webhooks: tuple[Webhook, ...] = ()
    """The operator's own webhooks (flags): every release's notifications go there."""
    allowed: AllowedHosts = field(default_factory=AllowedHosts)
    """Hosts a release's own webhook (annotation) may name; empty: none."""
    capacity: int = QUEUE_CAPACITY
    attempts: int = ATTEMPTS
    backoff: Sequence[float] = BACKOFF_SECONDS
    timeout: float = REQUEST_TIMEOUT_SECONDS
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self._queue: collections.deque[Delivery] = collections.deque(maxlen=self.capacity)
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._failures: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    # --- the reconciler's side: never waits, never raises ------------------------------

    def notify(self, body: Mapping[str, Any], before: ReleaseStatus, after: ReleaseStatus) -> None:
        """Queue a notification if this status write moved the phase."""
        try:
            meta = body.get("metadata") or {}
            namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
            notification = phase_change(namespace, name, before, after, format_time(self.clock()))
            if notification is None:
                return
            targets = list(self.webhooks)
            own = self._release_webhook(namespace, name, meta.get("annotations") or {})
            if own is not None and own not in targets:
                targets.append(own)
            if targets:
                self.submit(Delivery(notification, tuple(targets)))
        except Exception:  # a notification must never fail a release's step
            log.exception("notification not queued")

    def _release_webhook(
        self, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> Webhook | None:
        webhook, problem = release_webhook(annotations)
        if webhook is not None:
            problem = self.host_problem(webhook.url) or ""
        if problem:
            self.stats.refused += 1
            log.warning("%s/%s: release webhook ignored: %s", namespace, name, problem)
            return None
        return webhook

    def host_problem(self, url: str) -> str | None:
        """Why a release's webhook host may not be used: the allowlist, then addresses no
        release may ever reach (metadata, link-local)."""
        host = urlsplit(url).hostname or ""
        if not self.allowed.allows(host):
            return f"host {host} is not in --notify-allowed-hosts"
        address = parse_address(host)
        if address is not None and (reason := never_reachable(address)) is not None:
            return f"host {host} is never reachable ({reason})"
        return None

    def submit(self, delivery: Delivery) -> bool:
        """Queue ``delivery``; False when the queue was full and its oldest entry was dropped."""
        full = len(self._queue) == self._queue.maxlen
        if full:
            self.stats.dropped += 1
            dropped = self._queue[0]
            log.warning(
                "notification queue full: dropped %s/%s %s",
                dropped.notification.namespace,
                dropped.notification.release,
                dropped.notification.phase,
            )
        self._queue.append(delivery)
        self._idle.clear()
        self._ready.set()
        return not full

    # --- the background task ------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="webhook-notifier")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let the queue drain for up to ``grace`` seconds, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def drained(self) -> None:
        """Returns once every queued notification was sent or given up on."""
        await self._idle.wait()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            while self._queue:
                delivery = self._queue.popleft()
                for webhook in delivery.webhooks:
                    try:
                        await self._deliver(delivery.notification, webhook)
                    except Exception:  # one bad delivery must not end every later one
                        self.stats.failed += 1
                        log.exception("notification to %s failed", _redacted(webhook.url))
            self._ready.clear()
            self._idle.set()

    async def _deliver(self, notification: Notification, webhook: Webhook) -> None:
        failing = self._failures.get(webhook.url, 0) >= OPEN_AFTER_FAILURES
        attempts = 1 if failing else self.attempts
        problem = ""
        for attempt in range(1, attempts + 1):
            try:
                await self._post(webhook, notification.body(webhook.form))
            except RetryableError as err:
                problem = str(err)
                if attempt < attempts:
                    await self.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)])
                continue
            except _RefusedError as err:
                problem = str(err)
                break
            self._failures.pop(webhook.url, None)
            self.stats.sent += 1
            return
        self._failures[webhook.url] = self._failures.get(webhook.url, 0) + 1
        self.stats.failed += 1
        log.warning(
            "%s/%s: notification of phase %s to %s failed: %s",
            notification.namespace,
            notification.release,
            notification.phase,
            _redacted(webhook.url),
            problem,
        )

    async def _post(self, webhook: Webhook, body: Mapping[str, Any]) -> None:
        try:
            async with self.session.post(
                webhook.url,
                json=dict(body),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            ) as response:
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise RetryableError(f"{type(err).__name__}") from None
        if status == 429 or status >= 500:
            raise RetryableError(f"HTTP {status}")
        if not 200 <= status < 300:
            raise _RefusedError(f"HTTP {status}")


class _RefusedError(Exception):
    """The receiver answered and said no (a 4xx other than 429): retrying will not help."""


def _redacted(url: str) -> str:
    """Webhook URLs carry their secret in the path (Slack's do): logs name the host only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."
