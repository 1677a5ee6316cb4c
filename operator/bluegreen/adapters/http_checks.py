"""HTTP checks: GET a URL the policy allows and judge status and body.

Everything here is bounded, because the URL, the server behind it and the
patterns come from release authors while the checks run on the operator's one
event loop:
- the host is checked before any lookup, every resolved address after it, and
  the connection goes to a checked address (a second lookup could answer
  differently: DNS rebinding);
- one attempt (lookup, connect, headers, body) lives under the check's timeout,
  and at most ``BODY_LIMIT`` bytes of body are read, undecoded by any
  Content-Encoding;
- redirects are not followed: a 3xx is the observed status;
- messages name the target without credentials or query, give an error's class
  only, and never quote the body; they fit ``MESSAGE_LIMIT``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bluegreen.adapters.check_targets import CheckPolicy, IPAddress, describe_target
from bluegreen.core.body_regex import BodyRegexError, compile_body_regex
from bluegreen.core.spec import HttpCheck

RETRY_PAUSE_SECONDS = 1.0
BODY_LIMIT = 64 * 1024
MESSAGE_LIMIT = 200
OWN_ADDRESS_LOOKUP_SECONDS = 5.0
MAX_STEP_SECONDS = 300.0
"""Longest a step's checks may run together; longer budgets are cut here."""
CANCEL_GRACE_SECONDS = 2.0

Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
"""(host, port) -> IP addresses; injectable so tests can play a rebinding DNS server."""


async def system_resolve(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def own_addresses(resolve: Resolve = system_resolve) -> frozenset[IPAddress]:
    """This host's (or pod's) addresses by its hostname: where its own ports listen too.

    Loopback is covered by the policy itself; a failed lookup leaves just that.
    """
    try:
        async with asyncio.timeout(OWN_ADDRESS_LOOKUP_SECONDS):
            found = await resolve(socket.gethostname(), 0)
    except (OSError, TimeoutError):
        return frozenset()
    return frozenset(ipaddress.ip_address(a) for a in found)


@dataclass(frozen=True)
class HttpCheckOutcome:
    passed: bool
    attempts: int
    message: str


class RefusedError(Exception):
    """The policy forbids this target: fail now, do not retry."""


class HttpChecker:
    def __init__(
        self,
        policy: CheckPolicy,
        resolve: Resolve = system_resolve,
        retry_pause_seconds: float = RETRY_PAUSE_SECONDS,
    ) -> None:
        self.policy, self.resolve, self.retry_pause = policy, resolve, retry_pause_seconds

    def budget(self, check: HttpCheck) -> float:
        """The most one check can take: every attempt to its timeout, and the pauses."""
        return check.attempts * check.timeout_seconds + (check.attempts - 1) * self.retry_pause

    async def run_all(self, checks: Sequence[tuple[HttpCheck, str]]) -> list[HttpCheckOutcome]:
        """Run checks concurrently under one deadline; outcomes in the order given.

        The deadline is the largest budget among them (capped at MAX_STEP_SECONDS):
        a slow check costs its own time, never the sum of everyone's.
        """
        if not checks:
            return []
        deadline = min(MAX_STEP_SECONDS, max(self.budget(c) for c, _ in checks) + 1.0)
        tasks = [asyncio.create_task(self.run(check, url)) for check, url in checks]
        try:
            await asyncio.wait(tasks, timeout=deadline)
        finally:
            for task in tasks:
                task.cancel()
        outcomes = [
            _outcome(task, check, url, deadline)
            for task, (check, url) in zip(tasks, checks, strict=True)
        ]
        # Let cancelled checks unwind (close their sockets); bounded all the same.
        await asyncio.wait(tasks, timeout=CANCEL_GRACE_SECONDS)
        return outcomes

    async def run(self, check: HttpCheck, url: str) -> HttpCheckOutcome:
        """Up to ``check.attempts`` tries; the first success passes the check."""
        target = describe_target(url)
        host = urlsplit(url).hostname or ""
        refusal = self.policy.host_refusal(host, explicit=check.url is not None)
        if refusal is not None:
            # Never attempted: not even a DNS lookup goes out for a refused host.
            return HttpCheckOutcome(False, 0, bounded(refusal))
        message = "not run"
        for attempt in range(1, check.attempts + 1):
            try:
                ok, message = await self._attempt(check, url, target)
            except RefusedError as refused:
                return HttpCheckOutcome(False, attempt, bounded(f"GET {target}: {refused}"))
            if ok:
                return HttpCheckOutcome(True, attempt, message)
            if attempt < check.attempts:
                # A pause between attempts, not a wait for a condition: retries must not
                # hammer a candidate that is still warming up.
                await asyncio.sleep(self.retry_pause)
        return HttpCheckOutcome(False, check.attempts, message)

    async def _attempt(self, check: HttpCheck, url: str, target: str) -> tuple[bool, str]:
        started = time.monotonic()
        try:
            async with asyncio.timeout(check.timeout_seconds):
                status, body = await self._get(url)
        except RefusedError:
            raise
        except TimeoutError:
            took = time.monotonic() - started
            return False, bounded(f"GET {target}: timed out after {took:.1f}s")
        except (aiohttp.ClientError, OSError, ValueError) as err:
            return False, bounded(f"GET {target}: {type(err).__name__}")
        return judge(check, target, status, body)

    async def _get(self, url: str) -> tuple[int, str]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        pinned = await self._checked_addresses(host, port)
        connector = aiohttp.TCPConnector(
            resolver=PinnedResolver(pinned), use_dns_cache=False, force_close=True
        )
        async with (
            aiohttp.ClientSession(connector=connector, auto_decompress=False) as session,
            session.get(
                url,
                allow_redirects=False,
                # Compressed bodies would be read raw: ask for none (a zip bomb stays a
                # non-matching body, never memory).
                headers={"Accept-Encoding": "identity"},
            ) as response,
        ):
            body = await _read_capped(response.content, BODY_LIMIT)
            return response.status, body.decode("utf-8", "replace")

    async def _checked_addresses(self, host: str, port: int) -> list[str]:
        addresses = list(await self.resolve(host, port))
        if not addresses:
            raise OSError("no address")
        for raw in addresses:
            address = ipaddress.ip_address(raw)
            reason = self.policy.address_refusal(address, port)
            if reason is not None:
                raise RefusedError(f"address not allowed ({reason}): {address}")
        return addresses


def _outcome(
    task: asyncio.Task[HttpCheckOutcome], check: HttpCheck, url: str, deadline: float
) -> HttpCheckOutcome:
    target = describe_target(url)
    if not task.done() or task.cancelled():
        return HttpCheckOutcome(
            False,
            check.attempts,
            bounded(f"GET {target}: step deadline of {deadline:.0f}s exceeded"),
        )
    error = task.exception()
    if error is not None:
        # A bug of ours, not the target's: the check fails with the class only.
        return HttpCheckOutcome(False, check.attempts, f"GET {target}: {type(error).__name__}")
    return task.result()


class PinnedResolver(AbstractResolver):
    """Answers with the addresses already checked: aiohttp connects to nothing else."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = tuple(addresses)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        return None


async def _read_capped(content: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of body; the rest is never read (the connection closes)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def judge(check: HttpCheck, target: str, status: int, body: str) -> tuple[bool, str]:
    """Pure verdict on one response; the message never quotes the body."""
    if status != check.expect_status:
        redirect = " (redirects are not followed)" if 300 <= status < 400 else ""
        return False, bounded(
            f"GET {target}: status {status}{redirect}, expected {check.expect_status}"
        )
    if check.expect_body is not None and check.expect_body not in body:
        return False, bounded(f"GET {target}: body lacks the expected text")
    if check.expect_body_regex is not None:
        try:
            matched = compile_body_regex(check.expect_body_regex).search(body)
        except BodyRegexError:
            return False, bounded(f"GET {target}: expectBodyRegex is not valid RE2")
        if not matched:
            return False, bounded(f"GET {target}: body does not match expectBodyRegex")
    return True, bounded(f"GET {target}: {status}")


def bounded(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."
