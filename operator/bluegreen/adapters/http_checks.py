"""HTTP checks: GET a URL and judge status and body. Decisions stay in core."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import aiohttp

from bluegreen.core.spec import HttpCheck

RETRY_PAUSE_SECONDS = 1.0
BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class HttpCheckOutcome:
    passed: bool
    attempts: int
    message: str


class HttpChecker:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def run(self, check: HttpCheck, url: str) -> HttpCheckOutcome:
        """Up to ``check.attempts`` tries; the first success passes the check."""
        message = "not run"
        for attempt in range(1, check.attempts + 1):
            ok, message = await self._attempt(check, url)
            if ok:
                return HttpCheckOutcome(True, attempt, message)
            if attempt < check.attempts:
                # A pause between attempts, not a wait for a condition: retries must not
                # hammer a candidate that is still warming up.
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
        return HttpCheckOutcome(False, check.attempts, message)

    async def _attempt(self, check: HttpCheck, url: str) -> tuple[bool, str]:
        timeout = aiohttp.ClientTimeout(total=check.timeout_seconds)
        try:
            async with self.session.get(url, timeout=timeout, allow_redirects=False) as response:
                body = (await response.content.read(BODY_LIMIT)).decode("utf-8", "replace")
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            return False, f"GET {url}: {type(err).__name__}: {err}"[:300]
        return judge(check, url, status, body)


def judge(check: HttpCheck, url: str, status: int, body: str) -> tuple[bool, str]:
    """Pure verdict on one response (unit-tested without a server)."""
    if status != check.expect_status:
        return False, f"GET {url}: status {status}, expected {check.expect_status}"
    if check.expect_body is not None and check.expect_body not in body:
        return False, f"GET {url}: body lacks {check.expect_body!r}"
    if check.expect_body_regex is not None and not re.search(check.expect_body_regex, body):
        return False, f"GET {url}: body does not match /{check.expect_body_regex}/"
    return True, f"GET {url}: {status}"
