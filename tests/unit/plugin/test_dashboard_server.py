"""The dashboard's HTTP server on a real loopback socket, over a fake source."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from dashboard_samples import NOW, holding, two_releases_events

from bluegreen.plugin import cli
from bluegreen.plugin.dashboard.address import loopback_address
from bluegreen.plugin.dashboard.server import Dashboard, allowed_hosts, listen, url_of
from bluegreen.plugin.dashboard.snapshot import Scope
from bluegreen.plugin.kube import JSON, PluginError
from bluegreen.plugin.verdict import ExitCode


class FakeSource:
    def __init__(self) -> None:
        self.version = 0
        self.objects: list[JSON] = [holding()]
        self.problem: list[str] = []
        self._changed = asyncio.Event()

    def releases(self) -> list[JSON]:
        return self.objects

    def events(self) -> list[JSON]:
        return two_releases_events()

    def problems(self) -> list[str]:
        return self.problem

    def loading(self) -> bool:
        return False

    async def changed(self, version: int) -> int:
        while self.version == version:
            await self._changed.wait()
        return self.version

    def change(self, phase: str) -> None:
        self.objects = [holding()]
        self.objects[0]["status"]["phase"] = phase
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()


@contextlib.asynccontextmanager
async def served(source: FakeSource) -> AsyncIterator[str]:
    sock = listen("127.0.0.1", 0)
    scope = Scope("shop", "dev", "https://api")
    runner = web.AppRunner(Dashboard(source, scope, lambda: NOW, allowed_hosts(sock)).app())
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield url_of(sock)
    finally:
        await runner.cleanup()


async def test_the_page_its_files_and_the_snapshot() -> None:
    async with served(FakeSource()) as url, aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200 and page.content_type == "text/html"
            html = await page.text()
            assert '<script src="static/dashboard.js">' in html
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Frame-Options"] == "DENY"
        async with http.get(url + "static/dashboard.js") as script:
            assert script.status == 200 and script.content_type == "text/javascript"
            assert "EventSource" in await script.text()
        for missing in ("static/index.py", "static/..%2fserver.py", "nothing"):
            async with http.get(url + missing) as response:
                assert response.status == 404, missing
        async with http.get(url + "api/snapshot") as response:
            body = await response.json()
            assert [r["phase"] for r in body["releases"]] == ["Holding"]
            assert response.headers["Cache-Control"] == "no-store"


async def test_read_only_every_other_method_is_refused() -> None:
    async with served(FakeSource()) as url, aiohttp.ClientSession() as http:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            async with http.request(method, url + "api/snapshot", data="{}") as response:
                assert response.status == 405, method
                assert response.headers["Allow"] in ("GET, HEAD", "HEAD, GET")


async def test_a_foreign_host_name_is_refused() -> None:
    """A page of another site whose DNS name points at 127.0.0.1 (DNS rebinding)."""
    async with served(FakeSource()) as url, aiohttp.ClientSession() as http:
        port = url.rsplit(":", 1)[1].strip("/")
        async with http.get(url + "api/snapshot", headers={"Host": f"evil.example:{port}"}) as r:
            assert r.status == 421
            assert "releases" not in await r.text()
        async with http.get(url + "api/snapshot", headers={"Host": f"localhost:{port}"}) as r:
            assert r.status == 200


async def _next_data(stream: aiohttp.StreamReader) -> dict[str, Any]:
    async with asyncio.timeout(3):
        while True:
            line = (await stream.readline()).decode()
            if line.startswith("data: "):
                return dict(json.loads(line.removeprefix("data: ")))


async def test_the_stream_pushes_a_snapshot_on_every_change() -> None:
    source = FakeSource()
    async with (
        served(source) as url,
        aiohttp.ClientSession() as http,
        http.get(url + "api/stream") as stream,
    ):
        assert stream.content_type == "text/event-stream"
        first = await _next_data(stream.content)
        assert first["releases"][0]["phase"] == "Holding"
        source.change("RolledBack")
        # Well before the periodic refresh: pushed by the change itself.
        second = await _next_data(stream.content)
        assert second["releases"][0]["phase"] == "RolledBack"


@pytest.mark.parametrize(
    ("given", "address"),
    [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("127.0.0.2", "127.0.0.2"),
     ("::1", "::1"), ("[::1]", "::1"), ("LOCALHOST", "127.0.0.1")],
)  # fmt: skip
def test_loopback_addresses(given: str, address: str) -> None:
    assert loopback_address(given) == address


@pytest.mark.parametrize(
    "given", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "", "127.0.0.1.nip.io"]
)
def test_any_other_address_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="loopback address only"):
        loopback_address(given)
    with pytest.raises(ValueError, match="loopback address only"):
        listen(given, 0)


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            PluginError, match=f"cannot listen on 127.0.0.1:{port}: address already"
        ):
            listen("127.0.0.1", port)


def test_port_zero_picks_a_free_port_and_the_url_names_it() -> None:
    sock = listen("127.0.0.1", 0)
    with sock:
        port = sock.getsockname()[1]
        assert port > 0 and url_of(sock) == f"http://127.0.0.1:{port}/"
        assert allowed_hosts(sock) == {f"127.0.0.1:{port}", f"localhost:{port}"}


def test_the_command_refuses_a_non_loopback_address(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["dashboard", "--address", "0.0.0.0"])
    assert exited.value.code == ExitCode.ERROR
    assert "loopback address only" in capsys.readouterr().err


def test_the_command_parses_its_flags() -> None:
    args = cli.build_parser().parse_args(["dashboard", "-A", "--port", "0", "-n", "x"])
    assert (args.command, args.all_namespaces, args.port, args.address) == (
        "dashboard",
        True,
        0,
        "127.0.0.1",
    )
    default = cli.build_parser().parse_args(["--context", "c", "dashboard"])
    assert (default.port, default.all_namespaces, default.context) == (3100, False, "c")
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["dashboard", "--port", "70000"])
