"""Shard ownership by namespace hash, shard Lease names, and the agreement rule."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bluegreen.api.v1alpha1 import FINALIZER
from bluegreen.core.sharding import (
    ShardClaim,
    disagreeing,
    finalizer_for,
    in_group,
    lease_name,
    shard_of,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_the_owner_is_stable_and_in_range() -> None:
    # The same in every process and every run: a fixed value, not Python's salted hash.
    assert shard_of("shop", 3) == shard_of("shop", 3)
    assert shard_of("team-a", 1) == 0
    assert all(0 <= shard_of(f"ns-{i}", 5) < 5 for i in range(200))


def test_namespaces_spread_over_the_shards() -> None:
    counts = Counter(shard_of(f"team-{i}", 3) for i in range(3000))
    assert set(counts) == {0, 1, 2}
    assert min(counts.values()) > 900  # within 10% of an even 1000


def test_growing_moves_only_some_namespaces() -> None:
    moved = sum(shard_of(f"ns-{i}", 3) != shard_of(f"ns-{i}", 4) for i in range(1000))
    assert 0 < moved < 1000


def test_lease_and_finalizer_names() -> None:
    assert lease_name("bluegreen-operator", 0, 1) == "bluegreen-operator"
    assert lease_name("bluegreen-operator", 2, 3) == "bluegreen-operator-shard-2"
    assert in_group("bluegreen-operator", "bluegreen-operator")
    assert in_group("bluegreen-operator-shard-2", "bluegreen-operator")
    assert not in_group("bluegreen-operator-tf-lock", "bluegreen-operator")
    assert finalizer_for(0) == FINALIZER
    assert finalizer_for(2) == f"{FINALIZER}-shard-2"
    assert len({finalizer_for(i) for i in range(8)}) == 8


def claim(
    name: str, shards: int | None, age: float = 1, holder: str = "pod-a", duration: int = 15
) -> ShardClaim:
    return ShardClaim(name, holder, shards, NOW - timedelta(seconds=age), duration)


def test_live_leases_with_another_count_stop_the_shard() -> None:
    claims = [claim("op-shard-0", 3), claim("op-shard-1", 4), claim("op-shard-2", 3)]
    assert disagreeing(claims, 3, NOW) == ["op-shard-1"]
    assert disagreeing(claims, 4, NOW) == ["op-shard-0", "op-shard-2"]


def test_expired_or_released_leases_do_not_count() -> None:
    claims = [claim("op-shard-1", 4, age=16), claim("op-shard-2", 4, holder="")]
    assert disagreeing(claims, 3, NOW) == []


@pytest.mark.parametrize(("shards", "expected"), [(1, []), (3, ["op"])])
def test_a_lease_without_a_count_is_an_unsharded_leader(shards: int, expected: list[str]) -> None:
    assert disagreeing([claim("op", None)], shards, NOW) == expected
