"""An HTTP fault proxy in front of the API server: slow answers, 429s and 500s.

The replica behind it talks plain HTTP to 127.0.0.1 with no credentials; the
proxy forwards each request over TLS with the admin client certificate and
streams the answer back (watches included). While a fault is on, a share of
the requests that are not watches is answered by the proxy itself with 429
(and ``Retry-After``) or 500, and every request waits ``delay`` first: the
API server as an overloaded or failing one looks to a client.
"""

from __future__ import annotations

import asyncio
import base64
import random
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class ApiFaultProxy:
    def __init__(self, kubeconfig: Path, seed: int = 7) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self.upstream = str(cluster["server"])
        self.tls = _client_tls(cluster, user)
        self.error_share = 0.0
        self.delay = 0.0
        self.injected = {429: 0, 500: 0}
        self.forwarded = 0
        self.random = random.Random(seed)
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> ApiFaultProxy:
        self.thread.start()
        self.ready.wait(10)
        return self

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig that reaches the API server only through this proxy."""
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}
                    ],
                    "users": [{"name": "proxy", "user": {}}],
                    "contexts": [
                        {"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}
                    ],
                    "current-context": "proxy",
                }
            )
        )
        return path

    def fail(self, share: float, delay: float) -> None:
        self.error_share, self.delay = share, delay

    def heal(self) -> None:
        self.fail(0.0, 0.0)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    # -- serving

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # the bound port of port 0
        self.port = int(server.sockets[0].getsockname()[1])

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        watch = request.query.get("watch") in ("1", "true")
        if self.delay:
            await asyncio.sleep(self.delay)
        if not watch and self.random.random() < self.error_share:
            code = 429 if self.random.random() < 0.5 else 500
            self.injected[code] += 1
            headers = {"Retry-After": "1"} if code == 429 else {}
            body = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": code,
                "message": "injected by the chaos proxy",
                "reason": "TooManyRequests" if code == 429 else "InternalError",
            }
            return web.json_response(body, status=code, headers=headers)
        self.forwarded += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with self.session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=await request.read(),
            ssl=self.tls,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_HEADERS:
                    response.headers[key] = value
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response


def _client_tls(cluster: dict[str, Any], user: dict[str, Any]) -> ssl.SSLContext:
    folder = Path(tempfile.mkdtemp(prefix="chaos-proxy-"))
    files = {}
    for name, key in (
        ("ca", "certificate-authority-data"),
        ("crt", "client-certificate-data"),
        ("key", "client-key-data"),
    ):
        data = cluster.get(key) if name == "ca" else user.get(key)
        files[name] = folder / name
        files[name].write_bytes(base64.b64decode(data or ""))
    context = ssl.create_default_context(cafile=str(files["ca"]))
    context.load_cert_chain(str(files["crt"]), str(files["key"]))
    return context
