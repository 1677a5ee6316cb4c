"""``/healthz`` and ``/readyz``: what the kubelet asks every replica, leader or not.

Liveness answers while the event loop runs: a standby is healthy, and killing
it would only slow the next failover. Readiness says which role the replica
has; both roles are ready (a standby is doing exactly its job).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web


async def serve_health(port: int, role: Callable[[], str]) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps({"role": role()}) + "\n", content_type="application/json"
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # probed by the kubelet
    return runner
