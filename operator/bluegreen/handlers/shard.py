"""Which releases this replica's shard acts on: kopf's filter and the caches'."""

from __future__ import annotations

from typing import Any

import kopf

from bluegreen.config import OperatorConfig
from bluegreen.core.sharding import shard_of


def owns(config: OperatorConfig, namespace: str) -> bool:
    return shard_of(namespace, config.shards) == config.shard_index


def owned_release(namespace: str | None, memo: kopf.Memo, **_: Any) -> bool:
    """kopf's ``when=``: releases of other shards get no daemon and no deletion handling.

    kopf then takes its finalizer off such a release, which is why each shard
    index finalizes under its own name (``core.sharding.finalizer_for``).
    """
    config: OperatorConfig | None = memo.get("config")
    return config is None or owns(config, namespace or "")
