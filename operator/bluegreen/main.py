"""``bluegreen-operator``: run the operator (kopf) with metrics, probes and, with
``--leader-elect``, only while this replica holds the Lease."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import kopf

from bluegreen.adapters.health import serve_health
from bluegreen.adapters.json_logs import configure_logging
from bluegreen.adapters.kube_rest import KubeRest, make_api_client, user_agent
from bluegreen.adapters.leader_election import Fence, LeaderElector
from bluegreen.adapters.metrics import Metrics
from bluegreen.config import OperatorConfig, parse_config

log = logging.getLogger("bluegreen")


def main(argv: list[str] | None = None) -> int:
    config = parse_config(sys.argv[1:] if argv is None else argv)
    configure_logging(config.log_format)
    # kopf reports every successful watch-event handler at INFO: far too chatty for
    # an operator that wakes on each pod change. Our own warnings still show.
    logging.getLogger("kopf.objects").setLevel(logging.INFO if config.verbose else logging.WARNING)
    import bluegreen.handlers  # noqa: F401  # registers the handlers with kopf

    metrics = Metrics()
    metrics.serve(config.metrics_port)
    return asyncio.run(_run(config, metrics))


async def _run(config: OperatorConfig, metrics: Metrics) -> int:
    fence = Fence(elected=config.leader_elect)
    health = await serve_health(
        config.liveness_port, lambda: "leader" if fence.leading else "standby"
    )
    stop_kopf = asyncio.Event()
    memo = kopf.Memo(config=config, metrics=metrics, fence=fence)

    async def lead() -> int:
        await kopf.operator(
            standalone=True,  # peering is not election: see docs/leader-election.md
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            memo=memo,
            stop_flag=stop_kopf,
        )
        return 0

    try:
        if not config.leader_elect:
            metrics.leader.set(1)
            return await lead()
        return await _elect(config, metrics, fence, lead, stop_kopf)
    finally:
        await health.cleanup()


async def _elect(
    config: OperatorConfig,
    metrics: Metrics,
    fence: Fence,
    lead: Callable[[], Coroutine[Any, Any, int]],
    stop_kopf: asyncio.Event,
) -> int:
    # Until kopf starts (and installs its own), SIGTERM stops a standby at once.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def make_rest() -> KubeRest:
        # Called on the election's own thread: the client belongs to its loop.
        api = await make_api_client(config.kubeconfig)
        api.user_agent = user_agent(config.shard_index, config.shards)
        return KubeRest(api, on_response=metrics.count_request)

    elector = LeaderElector(
        make_rest,
        config.leader_election_namespace,
        config.leader_election_id,
        _identity(),
        config.lease_timings,
        fence,
        on_change=lambda leading: metrics.leader.set(1 if leading else 0),
        shards=config.shards,
        index=config.shard_index,
    )
    return await elector.run(lead, stop, stop_kopf.set)


def _identity() -> str:
    """Unique per process: a restarted pod must not inherit its predecessor's Lease."""
    pod = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{pod}_{uuid.uuid4().hex[:8]}"


if __name__ == "__main__":
    raise SystemExit(main())
