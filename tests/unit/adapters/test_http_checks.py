"""HTTP checks over real sockets on 127.0.0.1: the demo app, and hostile servers."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from tests.integration.harness import App, free_port

from bluegreen.adapters.check_targets import CheckPolicy, parse_allowed_hosts
from bluegreen.adapters.http_checks import (
    BODY_LIMIT,
    MESSAGE_LIMIT,
    HttpChecker,
    HttpCheckOutcome,
    judge,
    own_addresses,
)
from bluegreen.core.spec import HttpCheck

LOCAL = CheckPolicy(allowed=parse_allowed_hosts(["127.0.0.1", "rebind.test"]))
Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]
"""(request head, writer): what the server does once a request arrived."""


@dataclass
class Server:
    """A raw HTTP/1.1 server on 127.0.0.1 that records what reached it."""

    port: int
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    in_flight: int = 0
    most_in_flight: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> Server:
        record = Server(port=0)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            record.connections += 1
            record.in_flight += 1
            record.most_in_flight = max(record.most_in_flight, record.in_flight)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                record.requests.append(head)
                await handler(head, writer)
                await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                record.in_flight -= 1
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        record.port = server.sockets[0].getsockname()[1]
        return record

    yield start
    for server in servers:
        server.close()


def respond(status: int, body: bytes, headers: str = "") -> Handler:
    async def handler(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body
        )

    return handler


def checker(policy: CheckPolicy = LOCAL, resolve: Resolver | None = None) -> HttpChecker:
    if resolve is None:
        return HttpChecker(policy, retry_pause_seconds=0.01)
    return HttpChecker(policy, resolve, retry_pause_seconds=0.01)


@dataclass
class Resolver:
    """A DNS server that answers each lookup from a script: rebinding on demand."""

    answers: list[list[str]]
    lookups: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


# --- the demo app, as before ---------------------------------------------------------


@pytest.fixture(scope="module")
def app_v2() -> Iterator[App]:
    app = App("v2")
    yield app
    app.stop()


async def test_passes_on_expected_body(app_v2: App) -> None:
    outcome = await checker().run(HttpCheck(expect_body="V2"), f"{app_v2.url}/")
    assert outcome.passed and outcome.attempts == 1


async def test_fails_after_all_attempts_on_wrong_body(app_v2: App) -> None:
    outcome = await checker().run(HttpCheck(expect_body="V1", attempts=2), f"{app_v2.url}/")
    assert not outcome.passed
    assert outcome.attempts == 2
    assert "body lacks the expected text" in outcome.message


async def test_regex_and_status(app_v2: App) -> None:
    ok = await checker().run(HttpCheck(expect_body_regex=r"App V\d"), f"{app_v2.url}/")
    missing = await checker().run(HttpCheck(attempts=1), f"{app_v2.url}/nope")
    assert ok.passed
    assert not missing.passed and "status 404" in missing.message


async def test_connection_refused_names_the_error_class_only() -> None:
    outcome = await checker().run(
        HttpCheck(attempts=1, timeout_seconds=1), f"http://127.0.0.1:{free_port()}/"
    )
    assert not outcome.passed
    assert outcome.message.endswith(": ClientConnectorError"), outcome.message


def test_judge_is_pure() -> None:
    assert judge(HttpCheck(), "u", 200, "x") == (True, "GET u: 200")
    assert judge(HttpCheck(expect_status=204), "u", 200, "")[0] is False
    assert judge(HttpCheck(expect_body_regex="(a+)+$"), "u", 200, "a" * 50_000 + "b") == (
        False,
        "GET u: body does not match expectBodyRegex",
    )


# --- where checks may go --------------------------------------------------------------


async def test_a_url_host_not_allowed_is_never_attempted(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(respond(200, b"ok"))
    resolver = Resolver([["127.0.0.1"]])
    url = f"http://127.0.0.1:{server.port}"
    outcome = await checker(CheckPolicy(), resolver).run(HttpCheck(url=url), f"{url}/")
    assert outcome == HttpCheckOutcome(False, 0, "url host not allowed: 127.0.0.1")
    assert server.connections == 0 and resolver.lookups == []


async def test_metadata_address_is_refused_even_when_allowed() -> None:
    wide = CheckPolicy(allowed=parse_allowed_hosts(["0.0.0.0/0"]))
    url = "http://169.254.169.254"
    outcome = await checker(wide).run(HttpCheck(url=url), f"{url}/latest/meta-data/")
    assert not outcome.passed and outcome.attempts == 0
    assert outcome.message == "url host not allowed: 169.254.169.254 (cloud metadata address)"


async def test_the_operators_own_port_is_refused(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(respond(200, b"metrics"))
    policy = CheckPolicy(allowed=LOCAL.allowed, own_ports=frozenset({server.port}))
    outcome = await checker(policy).run(HttpCheck(url=server.url), f"{server.url}/metrics")
    assert not outcome.passed and outcome.attempts == 1
    assert "address not allowed (the operator's own port): 127.0.0.1" in outcome.message
    assert server.connections == 0


async def test_dns_rebinding_is_pinned(serve: Callable[..., Awaitable[Server]]) -> None:
    """Each attempt resolves once, and connects to exactly what it checked."""
    server = await serve(respond(200, b"fine"))
    url = f"http://rebind.test:{server.port}"
    # Checked answer first, then the metadata address for any second lookup.
    resolver = Resolver([["127.0.0.1"], ["169.254.169.254"]])
    outcome = await checker(resolve=resolver).run(HttpCheck(url=url), f"{url}/")
    assert outcome.passed, outcome.message
    assert resolver.lookups == ["rebind.test"]
    assert b"Host: rebind.test:" in server.requests[0]  # the name is kept, the address pinned


async def test_a_rebound_answer_is_refused_before_connecting(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(respond(500, b"not yet"))
    url = f"http://rebind.test:{server.port}"
    resolver = Resolver([["127.0.0.1"], ["127.0.0.1", "169.254.169.254"]])
    outcome = await checker(resolve=resolver).run(HttpCheck(url=url, attempts=3), f"{url}/")
    assert not outcome.passed and outcome.attempts == 2  # no third attempt after a refusal
    assert "address not allowed (cloud metadata address): 169.254.169.254" in outcome.message
    assert server.connections == 1 and len(resolver.lookups) == 2


async def test_redirects_are_not_followed(serve: Callable[..., Awaitable[Server]]) -> None:
    elsewhere = await serve(respond(200, b"ok"))
    redirecting = await serve(respond(302, b"", f"Location: {elsewhere.url}/\r\n"))
    outcome = await checker().run(HttpCheck(attempts=1), f"{redirecting.url}/")
    assert not outcome.passed
    assert outcome.message.endswith("status 302 (redirects are not followed), expected 200")
    assert elsewhere.connections == 0


async def test_messages_carry_no_body_query_or_credentials(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    secret = b"SECRET-BODY-" + b"x" * 5000
    server = await serve(respond(500, secret))
    url = f"http://user:pa55@127.0.0.1:{server.port}/p" + "q" * 300 + "?token=t0ken"
    outcome = await checker().run(HttpCheck(attempts=1, expect_body="SECRET"), url)
    assert not outcome.passed
    for leaked in ("SECRET", "pa55", "user", "t0ken"):
        assert leaked not in outcome.message
    assert len(outcome.message) <= MESSAGE_LIMIT
    assert outcome.message.startswith(f"GET http://127.0.0.1:{server.port}/pqqq")


# --- nothing can hold a check longer than its timeout ---------------------------------


async def test_a_trickling_server_hits_the_deadline(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    """Headers then a body one byte per 0.2 s: the whole attempt is under the timeout."""

    async def trickle(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.2)  # the server's behaviour under test, not a wait

    server = await serve(trickle)
    outcome = await checker().run(HttpCheck(attempts=1, timeout_seconds=1), f"{server.url}/")
    assert not outcome.passed
    assert "timed out after 1." in outcome.message, outcome.message


async def test_slow_headers_hit_the_deadline(serve: Callable[..., Awaitable[Server]]) -> None:
    async def slow_headers(_: bytes, writer: asyncio.StreamWriter) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    server = await serve(slow_headers)
    outcome = await checker().run(HttpCheck(attempts=1, timeout_seconds=1), f"{server.url}/")
    assert "timed out" in outcome.message


async def test_the_body_read_is_capped(serve: Callable[..., Awaitable[Server]]) -> None:
    body = b"a" * (4 * BODY_LIMIT) + b"END"
    server = await serve(respond(200, body))
    outcome = await checker().run(HttpCheck(attempts=1, expect_body="END"), f"{server.url}/")
    assert not outcome.passed and "body lacks the expected text" in outcome.message
    within = await checker().run(HttpCheck(attempts=1, expect_body="a" * 1024), f"{server.url}/")
    assert within.passed


async def test_compressed_bodies_are_not_requested(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(respond(200, b"plain"))
    await checker().run(HttpCheck(attempts=1), f"{server.url}/")
    assert b"Accept-Encoding: identity" in server.requests[0]


async def test_checks_of_a_step_run_concurrently(serve: Callable[..., Awaitable[Server]]) -> None:
    """Three 2 s checks overlap: all three requests are in flight at once."""

    async def slow(head: bytes, writer: asyncio.StreamWriter) -> None:
        # A slow server is the behaviour under test; /0 answers last, /2 first.
        await asyncio.sleep(2.0 - 0.2 * int(head.split()[1].decode().strip("/")))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = await serve(slow)
    checks = [
        (HttpCheck(attempts=1, timeout_seconds=5, path=f"/{i}"), f"{server.url}/{i}")
        for i in range(3)
    ]
    outcomes = await checker().run_all(checks)
    assert [o.passed for o in outcomes] == [True, True, True]
    assert server.most_in_flight == 3
    # Results come back in the order given, whatever order they finished in.
    assert [o.message.split()[1] for o in outcomes] == [f"{url}:" for _, url in checks]


async def test_the_step_deadline_bounds_everything(serve: Callable[..., Awaitable[Server]]) -> None:
    """A check that outlives the step's deadline is reported failed, not awaited."""
    fast = await serve(respond(200, b"ok"))
    hung = asyncio.Event()

    class Stuck(HttpChecker):
        async def run(self, check: HttpCheck, url: str) -> HttpCheckOutcome:
            if url.endswith("/stuck"):
                await hung.wait()  # never set: stands for a bug that ignores its timeout
            return await super().run(check, url)

    stuck = Stuck(LOCAL, retry_pause_seconds=0.01)
    outcomes = await stuck.run_all(
        [
            (HttpCheck(attempts=1, timeout_seconds=1), f"{fast.url}/"),
            (HttpCheck(attempts=1, timeout_seconds=1), f"{fast.url}/stuck"),
        ]
    )
    assert outcomes[0].passed
    assert not outcomes[1].passed and "step deadline of 2s exceeded" in outcomes[1].message


async def test_own_addresses_come_from_the_hostname() -> None:
    found = await own_addresses(Resolver([["10.1.2.3", "fd12::3"]]))
    assert found == {ipaddress.ip_address("10.1.2.3"), ipaddress.ip_address("fd12::3")}

    async def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("no DNS")

    assert await own_addresses(failing) == frozenset()
