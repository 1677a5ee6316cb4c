"""HTTP checks over real HTTP, against the real demo app running locally."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from tests.integration.harness import App, free_port

from bluegreen.adapters.http_checks import HttpChecker, HttpCheckOutcome, judge
from bluegreen.core.spec import HttpCheck


@pytest.fixture(scope="module")
def app_v2() -> Iterator[App]:
    app = App("v2")
    yield app
    app.stop()


async def run(check: HttpCheck, url: str) -> HttpCheckOutcome:
    # One session per test: it must live on the loop of the test that uses it.
    async with aiohttp.ClientSession() as session:
        return await HttpChecker(session).run(check, url)


async def test_passes_on_expected_body(app_v2: App) -> None:
    outcome = await run(HttpCheck(expect_body="V2"), f"{app_v2.url}/")
    assert outcome.passed and outcome.attempts == 1


async def test_fails_after_all_attempts_on_wrong_body(app_v2: App) -> None:
    outcome = await run(HttpCheck(expect_body="V1", attempts=2), f"{app_v2.url}/")
    assert not outcome.passed
    assert outcome.attempts == 2
    assert "lacks 'V1'" in outcome.message


async def test_regex_and_status(app_v2: App) -> None:
    ok = await run(HttpCheck(expect_body_regex=r"App V\d"), f"{app_v2.url}/")
    missing = await run(HttpCheck(attempts=1), f"{app_v2.url}/nope")
    assert ok.passed
    assert not missing.passed and "status 404" in missing.message


async def test_connection_refused_is_a_failure_not_a_crash() -> None:
    outcome = await run(
        HttpCheck(attempts=1, timeout_seconds=1), f"http://127.0.0.1:{free_port()}/"
    )
    assert not outcome.passed
    assert "GET" in outcome.message


def test_judge_is_pure() -> None:
    assert judge(HttpCheck(), "u", 200, "x") == (True, "GET u: 200")
    assert judge(HttpCheck(expect_status=204), "u", 200, "")[0] is False
