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
from bluegreen.api.timefmt import parse_time_or_none
from bluegreen.api.v1alpha1 import LEASE_GROUP_LABEL, SHARDS_ANNOTATION
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
from bluegreen.core.sharding import ShardClaim, disagreeing, in_group, lease_name

log = logging.getLogger(__name__)
LEASE_API = "/apis/coordination.k8s.io/v1"
HALT_GRACE_SECONDS = 5.0


class Fence:
    """Whether this process may write now. Without election it always may.

    Writing needs the Lease held (``holds``) and, with shards, every live shard
    Lease agreeing on the shard count (``agreed``; see ``core.sharding``).
    """

    def __init__(self, elected: bool) -> None:
        self.elected = elected
        self.valid_until = float("inf") if not elected else float("-inf")
        self.agreed = True
        self.disagreeing: list[str] = []

    @property
    def holds(self) -> bool:
        return time.monotonic() < self.valid_until

    @property
    def leading(self) -> bool:
        return self.agreed and self.holds

    def extend(self, until: float) -> None:
        self.valid_until = max(self.valid_until, until) if self.holds else until

    def revoke(self) -> None:
        self.valid_until = float("-inf")

    def agree(self, disagreeing: list[str]) -> None:
        if disagreeing and disagreeing != self.disagreeing:
            log.warning(
                "not acting: shard Lease(s) %s count shards differently; waiting for them "
                "to go or expire",
                ", ".join(disagreeing),
            )
        elif not disagreeing and self.disagreeing:
            log.info("all live shard Leases agree again; acting")
        self.disagreeing = disagreeing
        self.agreed = not disagreeing


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
        shards: int = 1,
        index: int = 0,
    ) -> None:
        self.rest, self.identity, self.timings, self.fence = rest, identity, timings, fence
        self.namespace, self.group = namespace, name
        self.shards = shards
        self.name = lease_name(name, index, shards)
        self.path = f"{LEASE_API}/namespaces/{namespace}/leases/{self.name}"
        self.on_change = on_change
        self.observation: Observation | None = None
        self.lease: dict[str, Any] | None = None
        self.list_refused = False
        """Set once RBAC refused listing the election's Leases (unsharded installs only)."""

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
                if not await self._attempt() and not self.fence.holds:
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
        budget = max(remaining, self.timings.retry_period) if self.fence.holds else None
        sent_at = time.monotonic()
        try:
            return await asyncio.wait_for(self._try(sent_at), timeout=budget)
        except (TimeoutError, KubeError) as err:
            log.warning("lease %s/%s: %s", self.namespace, self.name, err or "timed out")
            return False

    async def _try(self, sent_at: float) -> bool:
        group = await self._group()
        self.lease = group.get(self.name)
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
        if move is not Move.RENEW:
            # Newly holding: look at the other shards again now that our claim is
            # written, so that of two new holders at least one sees the other.
            group = await self._group()
        others = [_claim(lease) for name, lease in group.items() if name != self.name]
        self.fence.agree(disagreeing(others, self.shards, datetime.now(UTC)))
        self.fence.extend(leading_until(sent_at, self.timings))
        return True

    async def _group(self) -> dict[str, dict[str, Any]]:
        """Every Lease of this election, by name: the shards' and an unsharded one."""
        listed: list[dict[str, Any]] = []
        try:
            if not self.list_refused:
                listed = await self.rest.list_items(
                    f"{LEASE_API}/namespaces/{self.namespace}/leases",
                    f"{LEASE_GROUP_LABEL}={self.group}",
                )
        except KubeError as err:
            # An install that grants only its own Lease by name (no list): enough for
            # one replica group, which has no other shard to agree with. Shards must
            # see each other: there the refusal stands, and nobody acts.
            if err.status != 403 or self.shards > 1:
                raise
            self.list_refused = True
        found = {str(lease["metadata"]["name"]): lease for lease in listed}
        if self.name not in found or (self.shards > 1 and self.group not in found):
            # Not labelled (yet): an unsharded leader of an earlier version, or our own
            # Lease before its first write. Read it by name.
            base = f"{LEASE_API}/namespaces/{self.namespace}/leases"
            for name in {self.name, self.group} - set(found):
                lease = await self.rest.get(f"{base}/{name}")
                if lease is not None:
                    found[name] = lease
        return {name: lease for name, lease in found.items() if in_group(name, self.group)}

    async def _write(self, record: LeaseRecord) -> dict[str, Any] | None:
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {LEASE_GROUP_LABEL: self.group},
            "annotations": {SHARDS_ANNOTATION: str(self.shards)},
        }
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


def _claim(lease: dict[str, Any]) -> ShardClaim:
    record = LeaseRecord.from_lease(lease)
    count = ((lease.get("metadata") or {}).get("annotations") or {}).get(SHARDS_ANNOTATION)
    return ShardClaim(
        lease=str(lease["metadata"]["name"]),
        holder=record.holder if record else "",
        shards=int(str(count)) if str(count or "").isdigit() else None,
        renewed_at=parse_time_or_none(record.renew_time) if record else None,
        duration_seconds=record.lease_duration_seconds if record else 0,
    )


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
