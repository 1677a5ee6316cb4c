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
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
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


RestFactory = Callable[[], Awaitable[KubeRest]]
"""Makes the elector's client inside the election's own event loop (aiohttp
sessions belong to the loop that made them)."""
STOP_POLL_SECONDS = 0.1
"""How often the election's thread looks whether it was asked to stop."""


class LeaderElector:
    """Acquire, renew and release the Lease, on a thread and event loop of their own.

    The operator's event loop can be busy for seconds on end: a thousand
    releases created at once each take a step, and a renewal queued behind that
    work once missed its deadline on every shard of a benchmark within 11 s of
    their start, so each leader stood down (and a standby taking over would have
    met the same burst). On their own thread the attempts get the CPU every few
    milliseconds however busy that loop is (the interpreter switches threads at
    least every 5 ms), and their requests travel on a client of their own.
    """

    def __init__(
        self,
        make_rest: RestFactory,
        namespace: str,
        name: str,
        identity: str,
        timings: LeaseTimings,
        fence: Fence,
        on_change: Callable[[bool], None] = lambda leading: None,
        shards: int = 1,
        index: int = 0,
    ) -> None:
        self.make_rest, self.identity, self.timings, self.fence = (
            make_rest,
            identity,
            timings,
            fence,
        )
        self.rest: KubeRest | None = None
        """The election thread's client, made there."""
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
        loop = asyncio.get_running_loop()
        acquired, lost = asyncio.Event(), asyncio.Event()
        done = threading.Event()
        campaign = threading.Thread(
            target=lambda: asyncio.run(self._campaign(loop, acquired, lost, done)),
            name="leader-election",
            daemon=True,
        )
        campaign.start()
        leader: asyncio.Task[int] | None = None
        try:
            if not await _first(acquired, stop, lost):
                return 1 if lost.is_set() else 0
            log.info("leading as %s (Lease %s/%s)", self.identity, self.namespace, self.name)
            self.on_change(True)
            leader = asyncio.create_task(lead())
            ended = asyncio.create_task(lost.wait())
            await asyncio.wait({leader, ended}, return_when=asyncio.FIRST_COMPLETED)
            ended.cancel()
            if not leader.done():
                log.error("leadership lost: the Lease was not renewed in time; stopping")
                self.fence.revoke()
                return 1
            return leader.result()
        finally:
            if leader is not None:
                self.on_change(False)
                if not leader.done():
                    halt()
                    await asyncio.wait({leader}, timeout=HALT_GRACE_SECONDS)
                    leader.cancel()
                    await asyncio.gather(leader, return_exceptions=True)
            # The thread releases the Lease (if held) and ends; a leader that lost it
            # has revoked the fence already, and the release then writes nothing.
            done.set()
            await asyncio.to_thread(campaign.join, self.timings.retry_period + 5)

    async def _campaign(
        self,
        main: asyncio.AbstractEventLoop,
        acquired: asyncio.Event,
        lost: asyncio.Event,
        done: threading.Event,
    ) -> None:
        """The election's own loop: an attempt every retry period until ``done``."""
        leading = False
        try:
            self.rest = await self.make_rest()
            while not done.is_set():
                held = await self._attempt()
                if held and not leading:
                    leading = True
                    main.call_soon_threadsafe(acquired.set)
                elif leading and not held and not self.fence.holds:
                    main.call_soon_threadsafe(lost.set)
                    return
                await _pause(done, self.timings.retry_period)
            if leading:
                await self._release()
        except Exception:
            # A bug (or no client) here must not leave a leader acting without renewals.
            log.exception("leader election failed; stopping")
            self.fence.revoke()
            main.call_soon_threadsafe(lost.set)
        finally:
            if self.rest is not None:
                await self.rest.api.close()

    async def _attempt(self) -> bool:
        """One acquire-or-renew; True when we hold the Lease afterwards."""
        remaining = self.fence.valid_until - time.monotonic()
        budget = max(remaining, self.timings.retry_period) if self.fence.holds else None
        sent_at = time.monotonic()
        try:
            return await asyncio.wait_for(self._try(sent_at), timeout=budget)
        except (TimeoutError, KubeError) as err:
            log.warning(
                "lease %s/%s: %s", self.namespace, self.name, str(err) or "no answer in time"
            )
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
        rest = self._client()
        listed: list[dict[str, Any]] = []
        try:
            if not self.list_refused:
                listed = await rest.list_items(
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
                lease = await rest.get(f"{base}/{name}")
                if lease is not None:
                    found[name] = lease
        return {name: lease for name, lease in found.items() if in_group(name, self.group)}

    def _client(self) -> KubeRest:
        assert self.rest is not None, "the election thread makes its client first"
        return self.rest

    async def _write(self, record: LeaseRecord) -> dict[str, Any] | None:
        rest = self._client()
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {LEASE_GROUP_LABEL: self.group},
            "annotations": {SHARDS_ANNOTATION: str(self.shards)},
        }
        if self.lease is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}
            body["spec"] = record.to_spec()
            return await rest.create(f"{LEASE_API}/namespaces/{self.namespace}/leases", body)
        meta["resourceVersion"] = self.lease["metadata"]["resourceVersion"]
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}
        body["spec"] = record.to_spec()
        try:
            return await rest.request("PUT", self.path, body=body)
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


async def _first(acquired: asyncio.Event, stop: asyncio.Event, failed: asyncio.Event) -> bool:
    """Wait for the Lease, ``stop`` or a failed election; True when the Lease came first."""
    waits = {asyncio.create_task(e.wait()) for e in (acquired, stop, failed)}
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
    return acquired.is_set() and not failed.is_set()


async def _pause(done: threading.Event, seconds: float) -> None:
    """Sleep ``seconds`` on the election's loop, or less once ``done`` is set."""
    deadline = time.monotonic() + seconds
    # ``done`` is set from the operator's thread, where this loop's Events can't be.
    while not done.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(min(STOP_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
