"""Shards: which replica group acts on a release, and when shards may act at all.

Releases are split by a stable hash of their namespace (SHA-256, not Python's
salted ``hash``), so every replica computes the same owner without talking to
the others, and all releases of a namespace, which may share Services and
quotas, stay together. Each shard elects its own leader on its own Lease, so a
shard fails over alone.

Two shards must never act on one release, also while the shard count changes
(a rollout runs old and new replicas side by side, and a namespace's owner
under 3 shards is not its owner under 4). Every shard Lease records the count
its holder was started with; a holder acts only while every live shard Lease
records the same count. A holder that finds another count stops acting until
the disagreeing Lease is gone or expired. Because a holder checks the Leases
after writing its own, of two holders with different counts at least one
sees the other before acting (see ``adapters.leader_election``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bluegreen.api.v1alpha1 import FINALIZER


def shard_of(namespace: str, shards: int) -> int:
    """The shard that owns every release of ``namespace``: the same in every process."""
    if shards <= 1:
        return 0
    digest = hashlib.sha256(namespace.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def lease_name(base: str, index: int, shards: int) -> str:
    """One Lease per shard; a single shard keeps the unsharded name, so growing from
    one replica group to several is seen as a change of count, not a new group."""
    return base if shards <= 1 else f"{base}-shard-{index}"


def in_group(name: str, base: str) -> bool:
    """Whether a Lease is one of this operator's shard Leases (or its unsharded one)."""
    return name == base or name.startswith(f"{base}-shard-")


def finalizer_for(index: int) -> str:
    """Each shard index finalizes with its own name (shard 0 with the original one).

    kopf removes its finalizer from objects its handlers do not match: with one
    shared name, a shard would take the finalizer off the releases of another.
    With one name per index, a shard only ever removes its own, which on a
    release it does not own is a leftover of an earlier shard count.
    """
    return FINALIZER if index == 0 else f"{FINALIZER}-shard-{index}"


@dataclass(frozen=True)
class ShardClaim:
    """What one shard Lease says: who holds it, until when, and for how many shards."""

    lease: str
    holder: str
    shards: int | None
    """The count its holder was started with; None when the Lease does not say."""
    renewed_at: datetime | None
    duration_seconds: int

    def live(self, now: datetime) -> bool:
        if not self.holder or self.renewed_at is None:
            return False
        return now < self.renewed_at + timedelta(seconds=self.duration_seconds)


def disagreeing(claims: Iterable[ShardClaim], shards: int, now: datetime) -> list[str]:
    """Live shard Leases whose holder counts shards differently: while any exists, wait.

    A Lease that does not record a count comes from a version without shards,
    which acted on every release: it disagrees with any count but one.
    """
    return sorted(
        claim.lease
        for claim in claims
        if claim.live(now) and (claim.shards if claim.shards is not None else 1) != shards
    )
