"""Kubernetes Events on a BlueGreenRelease: what ``kubectl describe`` shows humans."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bluegreen.adapters.kube_rest import KubeError, KubeRest
from bluegreen.api.timefmt import format_time
from bluegreen.api.v1alpha1 import API_VERSION, FIELD_MANAGER, KIND

log = logging.getLogger(__name__)
QUEUE_LIMIT = 10_000
"""Events waiting to be sent; past it new ones are dropped (and logged), never waited for."""


class Events:
    """Kubernetes Events on the BlueGreenRelease, as ``kubectl describe`` shows them.

    Once ``start``ed, Events are sent by background senders: a step never waits
    for one (they are best effort, and under load each would add a round trip
    between a candidate becoming ready and its switch). The time an Event states
    is when the step posted it, not when it was sent.
    """

    def __init__(self, rest: KubeRest, component: str = FIELD_MANAGER) -> None:
        self.rest = rest
        self.component = component
        self._queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] | None = None
        self._senders: list[asyncio.Task[None]] = []

    def start(self, senders: int = 4) -> None:
        self._queue = asyncio.Queue(QUEUE_LIMIT)
        self._senders = [asyncio.create_task(self._send_queued()) for _ in range(senders)]

    async def close(self, grace_seconds: float = 2.0) -> None:
        """Send what is queued, for a moment; then stop."""
        if self._queue is not None and not self._queue.empty():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout=grace_seconds)
        for task in self._senders:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)
        self._senders, self._queue = [], None

    async def post(
        self, release: Mapping[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        meta = release["metadata"]
        now = format_time(datetime.now(UTC))
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:12]}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid", ""),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        if self._queue is None:
            await self._send(str(meta["namespace"]), reason, body)
            return
        try:
            self._queue.put_nowait((str(meta["namespace"]), reason, body))
        except asyncio.QueueFull:
            log.warning("event %s on %s/%s dropped: too many queued", reason, *_where(meta))

    async def _send_queued(self) -> None:
        assert self._queue is not None
        while True:
            namespace, reason, body = await self._queue.get()
            try:
                await self._send(namespace, reason, body)
            finally:
                self._queue.task_done()

    async def _send(self, namespace: str, reason: str, body: dict[str, Any]) -> None:
        try:
            await self.rest.create(f"/api/v1/namespaces/{namespace}/events", body)
        except KubeError as err:
            # Events inform humans; a release must never stall because one was refused.
            if err.namespace_terminating:
                return  # the release is going away with its namespace
            where = _where(body["involvedObject"])
            log.warning("event %s on %s/%s not posted: %s", reason, *where, err)


def _where(meta: Mapping[str, Any]) -> tuple[str, str]:
    return str(meta.get("namespace", "")), str(meta.get("name", ""))
