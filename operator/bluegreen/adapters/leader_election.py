"""Leader election on a Lease: acquire, renew, release; the fence every write consults.

The rules (who may take the Lease, how long a leader may act) are in
``core/leadership.py``; this module does the API calls and keeps time.
Every write of the elector is a create or a replace fenced on the
resourceVersion it read, so two candidates can never both believe a write
made them the holder.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from bluegreen.adapters.kube_rest import KubeError, KubeRest
from bluegreen.core.leadership import (
    LeaseRecord,
    LeaseTimings,
    Move,
    Observation,
    claimed,
    leading_until,
    next_move,
    observe,
    released,
)

log = logging.getLogger(__name__)
LEASE_API = "/apis/coordination.k8s.io/v1"
HALT_GRACE_SECONDS = 5.0


class Fence:
    """Whether this process may write now. Without election it always may."""

    def __init__(self, elected: bool) -> None:
        self.elected = elected
        self.valid_until = float("inf") if not elected else float("-inf")

    @property
    def leading(self) -> bool:
        return time.monotonic() < self.valid_until

    def extend(self, until: float) -> None:
        self.valid_until = max(self.valid_until, until) if self.leading else until

    def revoke(self) -> None:
        self.valid_until = float("-inf")


class LeaderElector:
    def __init__(
        self,
        rest: KubeRest,
        namespace: str,
        name: str,
        identity: str,
        timings: LeaseTimings,
        fence: Fence,
        on_change: Callable[[bool], None] = lambda leading: None,
    ) -> None:
        self.rest, self.identity, self.timings, self.fence = rest, identity, timings, fence
        self.namespace, self.name = namespace, name
        self.path = f"{LEASE_API}/namespaces/{namespace}/leases/{name}"
        self.on_change = on_change
        self.observation: Observation | None = None
        self.lease: dict[str, Any] | None = None

    async def run(
        self,
        lead: Callable[[], Coroutine[Any, Any, int]],
        stop: asyncio.Event,
        halt: Callable[[], None],
    ) -> int:
        """Stand by until the Lease is ours, then ``lead`` while it stays ours.

        Returns ``lead``'s exit code when it ends by itself (the Lease is then
        released for a fast handover), 1 when leadership was lost (the process
        must exit: acting on would risk two leaders), 0 when stopped as a standby.
        ``halt`` asks ``lead`` to stop; it is cancelled if it does not within
        ``HALT_GRACE_SECONDS`` (its writes are fenced already).
        """
        while not await self._attempt():
            if await _wait(stop, self.timings.retry_period):
                return 0
        log.info("leading as %s (Lease %s/%s)", self.identity, self.namespace, self.name)
        self.on_change(True)
        leader = asyncio.create_task(lead())
        try:
            while not leader.done():
                await asyncio.wait({leader}, timeout=self.timings.retry_period)
                if leader.done():
                    break
                if not await self._attempt() and not self.fence.leading:
                    log.error("leadership lost: the Lease was not renewed in time; stopping")
                    self.fence.revoke()
                    return 1
            code = leader.result()
        finally:
            self.on_change(False)
            if not leader.done():
                halt()
                await asyncio.wait({leader}, timeout=HALT_GRACE_SECONDS)
                leader.cancel()
                await asyncio.gather(leader, return_exceptions=True)
        await self._release()
        return code

    async def _attempt(self) -> bool:
        """One acquire-or-renew; True when we hold the Lease afterwards."""
        remaining = self.fence.valid_until - time.monotonic()
        budget = max(remaining, self.timings.retry_period) if self.fence.leading else None
        sent_at = time.monotonic()
        try:
            return await asyncio.wait_for(self._try(sent_at), timeout=budget)
        except (TimeoutError, KubeError) as err:
            log.warning("lease %s/%s: %s", self.namespace, self.name, err or "timed out")
            return False

    async def _try(self, sent_at: float) -> bool:
        self.lease = await self.rest.get(self.path)
        current = LeaseRecord.from_lease(self.lease)
        self.observation = observe(self.observation, current, time.monotonic())
        move = next_move(self.identity, self.observation, self.timings, time.monotonic())
        if move is Move.WAIT:
            self.fence.revoke()  # someone else holds it: whatever we believed, stop now
            return False
        record = claimed(self.identity, move, current, self.timings, datetime.now(UTC))
        written = await self._write(record)
        if written is None:
            return False  # someone else wrote first: read again next time
        self.lease = written
        self.observation = observe(self.observation, record, time.monotonic())
        self.fence.extend(leading_until(sent_at, self.timings))
        return True

    async def _write(self, record: LeaseRecord) -> dict[str, Any] | None:
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if self.lease is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}
            body["spec"] = record.to_spec()
            return await self.rest.create(f"{LEASE_API}/namespaces/{self.namespace}/leases", body)
        meta["resourceVersion"] = self.lease["metadata"]["resourceVersion"]
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}
        body["spec"] = record.to_spec()
        try:
            return await self.rest.request("PUT", self.path, body=body)
        except KubeError as err:
            if err.conflict:
                return None
            raise

    async def _release(self) -> None:
        """Give the Lease up so a standby need not wait for it to expire."""
        current = LeaseRecord.from_lease(self.lease)
        self.fence.revoke()
        if current is None or current.holder != self.identity:
            return
        try:
            await asyncio.wait_for(
                self._write(released(current, datetime.now(UTC))),
                timeout=self.timings.retry_period,
            )
        except (TimeoutError, KubeError) as err:
            log.warning("releasing the Lease failed (%s); it expires by itself", err)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
