"""parse_spec bounds every check field a release author controls (caps, URL, RE2)."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.core import spec as s
from bluegreen.core.body_regex import BodyRegexError, compile_body_regex
from bluegreen.core.errors import SpecError


def release(*smoke: dict[str, Any], hold: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "template": {"spec": {"containers": [{"name": "app", "image": "shop:v2"}]}},
        "service": {"name": "shop"},
        "checks": {"smoke": list(smoke)},
        "hold": {"checks": hold or []},
    }


def http(**fields: Any) -> dict[str, Any]:
    return {"name": "home", "http": fields}


def refused(raw: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as caught:
        s.parse_spec(raw)
    assert caught.value.reason == "InvalidCheck"
    return caught.value


def test_a_check_at_every_cap_is_accepted() -> None:
    parsed = s.parse_spec(
        release(
            http(
                url="https://checks.example.com:8443/base/",
                path="/" + "p" * (s.HTTP_PATH_MAX_CHARS - 1),
                expectBody="b" * s.HTTP_EXPECT_BODY_MAX_CHARS,
                expectBodyRegex="r" * s.HTTP_EXPECT_BODY_REGEX_MAX_CHARS,
                timeoutSeconds=s.HTTP_TIMEOUT_MAX,
                attempts=s.HTTP_ATTEMPTS_MAX,
            ),
            hold=[
                {"name": f"j{i}", "job": {"template": {}, "timeoutSeconds": s.JOB_TIMEOUT_MAX}}
                for i in range(s.MAX_CHECKS)
            ],
        )
    )
    check = parsed.smoke_checks[0].http
    assert check is not None
    assert check.url == "https://checks.example.com:8443/base"
    assert check.timeout_seconds == 60.0 and check.attempts == 10
    assert len(parsed.hold.checks) == 16
    fractional = s.parse_spec(release(http(timeoutSeconds=1.5))).smoke_checks[0].http
    assert fractional is not None and fractional.timeout_seconds == 1.5


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"timeoutSeconds": 0}, "timeoutSeconds must be 1..60"),
        ({"timeoutSeconds": 61}, "timeoutSeconds must be 1..60"),
        ({"timeoutSeconds": 0.5}, "timeoutSeconds must be 1..60"),
        ({"timeoutSeconds": "5"}, "timeoutSeconds must be a number"),
        ({"timeoutSeconds": True}, "timeoutSeconds must be a number"),
        ({"timeoutSeconds": float("nan")}, "timeoutSeconds must be a number"),
        ({"attempts": 0}, "attempts must be at least 1"),
        ({"attempts": 11}, "attempts must be at most 10"),
        ({"expectBody": "b" * 1025}, "expectBody must be at most 1024"),
        ({"expectBodyRegex": "r" * 257}, "expectBodyRegex must be at most 256"),
        ({"path": "/" + "p" * 1024}, "path must be at most 1024"),
        ({"path": "/a b"}, "without spaces"),
        ({"path": "/a\r\nX-Injected: 1"}, "without spaces"),
        ({"path": "nope"}, "must start with '/'"),
        ({"expectStatus": 600}, "expectStatus must be at most 599"),
        ({"port": 0}, "port must be at least 1"),
    ],
)
def test_http_caps(fields: dict[str, Any], says: str) -> None:
    assert says in refused(release(http(**fields))).message


def test_job_timeout_and_list_caps() -> None:
    job = {"name": "e2e", "job": {"template": {}, "timeoutSeconds": 3601}}
    assert "job.timeoutSeconds must be at most 3600" in refused(release(job)).message
    too_many = [http() | {"name": f"c{i}"} for i in range(17)]
    assert "at most 16 checks" in refused(release(*too_many)).message
    assert "at most 16 checks" in refused(release(hold=too_many)).message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://127.0.0.1/", "scheme must be http or https"),
        ("file:///etc/passwd", "scheme must be http or https"),
        ("127.0.0.1:8080", "scheme must be http or https"),
        ("http://user:hunter2@127.0.0.1/", "must not carry credentials"),
        ("http://hunter2@127.0.0.1/", "must not carry credentials"),
        ("http:///path", "must name a host"),
        ("http://127.0.0.1:99999/", "not a valid URL"),
        ("http://127.0.0.1:0/", "port must be 1..65535"),
        ("http://127.0.0.1/?token=hunter2", "must not have a query"),
        ("http://127.0.0.1/#hunter2", "must not have a query"),
        ("http://127.0.0.1/ hunter2", "without spaces"),
        ("http://" + "h" * 2050, "at most 2048"),
    ],
)
def test_url_validation_never_echoes_the_url(url: str, says: str) -> None:
    error = refused(release(http(url=url)))
    assert says in error.message
    assert "hunter2" not in error.message and url not in error.message


def test_regex_is_re2_and_checked_at_parse_time() -> None:
    error = refused(release(http(expectBodyRegex="(?=lookahead)")))
    assert "bad expectBodyRegex (RE2): invalid perl operator: (?=" in error.message
    assert "missing )" in refused(release(http(expectBodyRegex="(unclosed"))).message
    assert len(error.message) < 250


def test_re2_runs_catastrophic_patterns_in_linear_time() -> None:
    # With a backtracking engine this search takes longer than the age of the universe;
    # RE2 answers it in one pass (no timing assertion: it would simply never return).
    regex = compile_body_regex("(a+)+$")
    assert regex.search("a" * 100_000 + "b") is False
    assert regex.search("xaaa") is True


def test_re2_errors_are_bounded() -> None:
    with pytest.raises(BodyRegexError) as caught:
        compile_body_regex("(" * 200)
    assert 0 < len(str(caught.value)) <= 120
