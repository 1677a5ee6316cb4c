"""The state lock: who holds it since when, and recovery of one left by a killed run.

Terraform reports a held lock as a diagnostic (summary "Error acquiring the
state lock") whose detail renders the lock's info as human text. The
kubernetes backend stores the same info as JSON: the lock's Lease
(``lock-tfstate-default-<key>``) has the lock ID as ``spec.holderIdentity``
and Terraform's ``LockInfo`` (``ID``, ``Created`` in RFC 3339, ``Who``,
``Operation``, ...) in the ``app.terraform.io/lock-info`` annotation. That
JSON is what is read here; the human text is not parsed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform.cluster import TerraformCluster
from bluegreen.adapters.terraform.session import CommandFailedError, Session

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_INFO_ANNOTATION = "app.terraform.io/lock-info"


@dataclass(frozen=True)
class HeldLock:
    id: str
    created: datetime | None
    """None when the lock info is missing or unreadable: its age is unknown."""

    def age_seconds(self, now: datetime) -> float | None:
        return (now - self.created).total_seconds() if self.created else None


def held_lock(lease: Mapping[str, Any] | None) -> HeldLock | None:
    """The lock a state Lease holds, or None when it is free (or absent)."""
    if not lease:
        return None
    holder = (lease.get("spec") or {}).get("holderIdentity")
    if not holder:
        return None
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    return HeldLock(str(holder), _created(annotations.get(LOCK_INFO_ANNOTATION), str(holder)))


def _created(raw: Any, holder: str) -> datetime | None:
    try:
        info = json.loads(raw)
    except (TypeError, ValueError):
        return None
    # Info about another lock than the one held says nothing about this one.
    if not isinstance(info, dict) or info.get("ID") != holder:
        return None
    try:
        created = datetime.fromisoformat(str(info.get("Created")))
    except ValueError:
        return None
    return created if created.tzinfo is not None else None


class StaleLockRecovery:
    """Runs a step that takes the state lock; breaks the lock once it is provably stale.

    A lock older than ``stale_after_seconds`` (by default the longest a run
    can last: its timeout plus the kill grace) cannot be held by a live run of
    ours. Runs of one release are serialized, and a run's processes are gone
    before the next starts (``process``); only one operator instance acts at a
    time (leader election). So such a lock was left by a killed run, and
    waiting would strand the release forever.
    """

    def __init__(
        self,
        cluster: TerraformCluster,
        stale_after_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._cluster = cluster
        self.stale_after = stale_after_seconds
        self._clock = clock

    async def run(self, key: str, session: Session, step: Callable[[], Awaitable[T]]) -> T:
        """Run ``step``; on a stale lock, force-unlock it and run ``step`` once more."""
        try:
            return await step()
        except CommandFailedError as failed:
            if not failed.is_lock_error:
                raise
            command = failed.command.name
        lock = held_lock(await self._cluster.lease(key))
        if lock is None:
            log.info("terraform state of %s: the lock was released meanwhile; retrying", key)
            return await step()
        age = lock.age_seconds(self._clock())
        if age is None:
            log.warning("terraform state of %s is locked; lock info unreadable, not unlocking", key)
            raise self._locked(command, lock)
        if age <= self.stale_after:
            log.warning(
                "terraform state of %s is locked by %s (%.0fs old, stale after %.0fs); waiting",
                key,
                lock.id,
                age,
                self.stale_after,
            )
            raise self._locked(command, lock)
        log.warning(
            "terraform state of %s: lock %s is %.0fs old (stale after %.0fs), force-unlocking",
            key,
            lock.id,
            age,
            self.stale_after,
        )
        await session.run(session.commands.force_unlock(lock.id))
        log.warning("terraform state of %s: stale lock %s force-unlocked; retrying", key, lock.id)
        return await step()

    async def run_init(self, key: str, init: Callable[[], Awaitable[None]]) -> None:
        """Run ``init``; on a stale lock, delete the lock's Lease and run it once more.

        ``init`` creating a release's first state takes the lock, and
        ``force-unlock`` needs an initialized directory: so a lock left by a
        killed run before any state existed is broken through the API, as
        ``force-unlock`` would, fenced on the very Lease judged stale (its uid
        and resourceVersion): a live run that took it meanwhile keeps it.
        """
        try:
            await init()
            return
        except CommandFailedError as failed:
            if not failed.is_lock_error:
                raise
        lease = await self._cluster.lease(key)
        lock = held_lock(lease)
        if lease is None or lock is None:
            await init()
            return
        age = lock.age_seconds(self._clock())
        if age is None or age <= self.stale_after:
            raise self._locked("init", lock)
        meta = lease["metadata"]
        log.warning(
            "terraform state of %s: lock %s is %.0fs old (stale after %.0fs), breaking it",
            key,
            lock.id,
            age,
            self.stale_after,
        )
        await self._cluster.delete_lease(
            key, str(meta.get("uid", "")), str(meta.get("resourceVersion", ""))
        )
        await init()

    def _locked(self, command: str, lock: HeldLock) -> InfrastructureError:
        # Terraform's own diagnostic is long and says nothing about what happens next.
        since = lock.created.isoformat(timespec="seconds") if lock.created else "an unknown time"
        return InfrastructureError(
            f"terraform {command} failed: the release's state is locked "
            f"(lock {lock.id}, taken {since}); a lock older than "
            f"{self.stale_after:.0f}s is force-unlocked by the next run"
        )
