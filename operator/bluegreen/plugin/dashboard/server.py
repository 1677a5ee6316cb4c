"""The dashboard's HTTP side: one page, its script and style, a JSON snapshot, and a
stream of snapshots (Server-Sent Events) pushed on every change the watches see.

Read-only: GET and HEAD only; the server holds no state a request could change.
Loopback only: it binds to a loopback address, and answers only requests whose
Host header names that address or ``localhost`` with its port, so a web page
that points a DNS name of its own at 127.0.0.1 cannot read it from the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from importlib import resources
from typing import Any, Final, Protocol

from aiohttp import web

from bluegreen.plugin.dashboard.address import loopback_address, url_host
from bluegreen.plugin.dashboard.snapshot import Scope, snapshot
from bluegreen.plugin.kube import JSON, PluginError

REFRESH_SECONDS: Final = 5.0
"""A snapshot at least this often, changes or not: ages and countdowns move."""
RETRY_MILLISECONDS: Final = 2000
"""How soon the browser reconnects a lost stream."""
READ_ONLY_METHODS: Final = frozenset({"GET", "HEAD"})
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC: Final = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
}


class Source(Protocol):
    """What the server reads: ``feed.Feed``, or a fake in tests."""

    version: int

    def releases(self) -> list[JSON]: ...

    def events(self) -> list[JSON]: ...

    def problems(self) -> list[str]: ...

    def loading(self) -> bool: ...

    async def changed(self, version: int) -> int:
        """The version, once it differs from ``version``."""
        ...


def listen(address: str, port: int) -> socket.socket:
    """A listening socket on ``address`` (loopback, checked again) and ``port`` (0: any free)."""
    address = loopback_address(address)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((address, port))
        sock.listen(64)
    except OSError as err:
        sock.close()
        reason = os.strerror(err.errno).lower() if err.errno else str(err)
        raise PluginError(f"cannot listen on {url_host(address)}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{url_host(str(host))}:{port}/"


def allowed_hosts(sock: socket.socket) -> frozenset[str]:
    """Host header values a browser sends for this socket's address."""
    host, port = sock.getsockname()[:2]
    names = {url_host(str(host)), "localhost"}
    return frozenset(f"{name}:{port}" for name in names)


def _static(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


class Dashboard:
    """The aiohttp application over a ``Source``; ``now`` is the clock of the snapshots."""

    def __init__(
        self, source: Source, scope: Scope, now: Callable[[], datetime], hosts: Iterable[str]
    ) -> None:
        self.source, self.scope, self.now = source, scope, now
        self.hosts = frozenset(hosts)
        self.streams: set[asyncio.Task[Any]] = set()
        self.files = {name: _static(name) for name in (*STATIC, "index.html")}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._file)
        app.router.add_get("/api/snapshot", self._snapshot)
        app.router.add_get("/api/stream", self._stream)
        app.on_response_prepare.append(self._headers)
        app.on_shutdown.append(self._close_streams)
        return app

    def snapshot(self) -> dict[str, Any]:
        source = self.source
        return snapshot(
            self.scope,
            source.releases(),
            source.events(),
            source.problems(),
            self.now(),
            loading=source.loading(),
        )

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.headers.get("Host", "").lower() not in self.hosts:
            return web.Response(
                status=421,
                text=f"this dashboard answers only to {', '.join(sorted(self.hosts))}\n",
            )
        if request.method not in READ_ONLY_METHODS:
            return web.Response(
                status=405, text="read-only\n", headers={"Allow": ", ".join(READ_ONLY_METHODS)}
            )
        return await handler(request)

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.files["index.html"], content_type="text/html", charset="utf-8"
        )

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return web.Response(body=self.files[name], content_type=STATIC[name], charset="utf-8")

    async def _snapshot(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """A snapshot now, then after every change the watches see and every few seconds."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        self.streams.add(task)
        try:
            await response.write(f"retry: {RETRY_MILLISECONDS}\n\n".encode())
            while True:
                version = self.source.version
                data = json.dumps(self.snapshot(), separators=(",", ":"))
                await response.write(f"data: {data}\n\n".encode())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REFRESH_SECONDS):
                        await self.source.changed(version)
        except ConnectionResetError:
            pass  # the browser went away
        finally:
            self.streams.discard(task)
        return response

    async def _close_streams(self, app: web.Application) -> None:
        """Streams never end by themselves: end them, or stopping waits for each."""
        for task in list(self.streams):
            task.cancel()
