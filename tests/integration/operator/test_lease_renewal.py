"""The Lease is renewed while the operator's own event loop is busy.

A thousand releases created at once keep the operator's loop busy for seconds;
renewals queued behind that work once missed their deadline and every leader
stood down. The election runs on a thread and loop of its own: here the
operator's loop is kept busy (CPU, not waiting) for three renew deadlines, and
the leader must still hold its Lease at the end, on the real API server.
"""

from __future__ import annotations

import asyncio
import time

from bluegreen.adapters.kube_rest import KubeRest, make_api_client
from bluegreen.adapters.leader_election import Fence, LeaderElector
from bluegreen.core.leadership import LeaseTimings
from tests.conftest import Cluster
from tests.integration.harness import Kubectl

TIMINGS = LeaseTimings(lease_duration=4.0, renew_deadline=3.0, retry_period=1.0)
LEASE = "busy-loop"


def _busy(seconds: float) -> int:
    """Keep this thread on the CPU without yielding to its event loop."""
    turns, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        turns += 1
    return turns


async def test_a_busy_event_loop_does_not_cost_the_lease(
    cluster: Cluster, k: Kubectl, namespace: str
) -> None:
    fence = Fence(elected=True)

    async def make_rest() -> KubeRest:
        return KubeRest(await make_api_client(str(cluster.kubeconfig)))

    elector = LeaderElector(make_rest, namespace, LEASE, "busy-replica", TIMINGS, fence)
    seen: dict[str, object] = {}

    async def lead() -> int:
        started = time.monotonic()
        seen["held_at_start"] = fence.holds
        _busy(3 * TIMINGS.renew_deadline)
        seen["held_at_end"] = fence.holds
        # Renewed during the busy spell: still valid for longer than one deadline
        # from the start could have given without a renewal.
        seen["renewed_while_busy"] = fence.valid_until > started + TIMINGS.renew_deadline
        seen["holder"] = k.json("get", "lease", LEASE, "-n", namespace)["spec"]["holderIdentity"]
        return 0

    code = await elector.run(lead, asyncio.Event(), halt=lambda: None)
    assert code == 0
    assert seen == {
        "held_at_start": True,
        "held_at_end": True,
        "renewed_while_busy": True,
        "holder": "busy-replica",
    }
    # Released on the way out, for a fast handover.
    released = k.json("get", "lease", LEASE, "-n", namespace)["spec"]
    assert not released.get("holderIdentity")
    assert not fence.holds
