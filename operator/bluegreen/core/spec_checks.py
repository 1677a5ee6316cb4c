"""Parsing of a spec's checks (``checks.smoke``, ``hold.checks``), every field bounded.

The bounds keep one check's cost (time, bytes read, regex work) small and known
in advance: checks run on the operator's event loop beside every other release.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bluegreen.api import defaults
from bluegreen.api.conditions import Reason
from bluegreen.api.enums import InconclusivePolicy, one_of
from bluegreen.api.limits import (
    HTTP_ATTEMPTS_MAX,
    HTTP_EXPECT_BODY_MAX_CHARS,
    HTTP_EXPECT_BODY_REGEX_MAX_CHARS,
    HTTP_PATH_MAX_CHARS,
    HTTP_STATUS_MAX,
    HTTP_STATUS_MIN,
    HTTP_TIMEOUT_MAX,
    HTTP_TIMEOUT_MIN,
    HTTP_URL_MAX_CHARS,
    JOB_TIMEOUT_MAX,
    JOB_TIMEOUT_MIN,
    MAX_CHECKS,
    MAX_DAY_SECONDS,
    METRIC_FAILURES_MAX,
    METRIC_INCONCLUSIVE_TIMEOUT_MAX,
    METRIC_QUERY_MAX_CHARS,
    METRIC_TIMEOUT_MAX,
    METRIC_TIMEOUT_MIN,
    METRIC_WINDOW_MAX,
    METRIC_WINDOW_MIN,
    PORT_MAX,
    PORT_MIN,
)
from bluegreen.api.spec import Check, HttpCheck, JobCheck, MetricCheck
from bluegreen.core.body_regex import BodyRegexError, compile_body_regex
from bluegreen.core.errors import SpecError
from bluegreen.core.metric_checks import unknown_variables
from bluegreen.core.spec_read import check_dns_label, read_int, read_mapping

_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f]")
"""Whitespace and control characters: never part of a URL we send."""
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters other than tab and newline, which a multi-line query may hold."""


def parse_checks(raw: Any, where: str) -> tuple[Check, ...]:
    if not isinstance(raw, list):
        raise SpecError(Reason.INVALID_CHECK, f"{where} must be a list")
    if len(raw) > MAX_CHECKS:
        raise SpecError(Reason.INVALID_CHECK, f"{where} may list at most {MAX_CHECKS} checks")
    checks = tuple(_check(read_mapping(item, where), where) for item in raw)
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(Reason.INVALID_CHECK, f"{where}: check names must be unique: {duplicates}")
    return checks


def _check(raw: Mapping[str, Any], where: str) -> Check:
    name = str(raw.get("name") or "")
    check_dns_label(name, f"{where}[].name")
    http_raw, job_raw, metric_raw = raw.get("http"), raw.get("job"), raw.get("metric")
    if sum(kind is not None for kind in (http_raw, job_raw, metric_raw)) != 1:
        raise SpecError(
            Reason.INVALID_CHECK, f"{where} '{name}': set exactly one of http, job or metric"
        )
    if http_raw is not None:
        return Check(name=name, http=_http(read_mapping(http_raw, where), f"{where} '{name}'"))
    if metric_raw is not None:
        metric = _metric(read_mapping(metric_raw, where), f"{where} '{name}'")
        return Check(name=name, metric=metric)
    job = read_mapping(job_raw, where)
    timeout = _check_int(
        job.get("timeoutSeconds", defaults.JOB_TIMEOUT_SECONDS),
        f"{where} '{name}': job.timeoutSeconds",
        JOB_TIMEOUT_MIN,
        JOB_TIMEOUT_MAX,
    )
    return Check(
        name=name,
        job=JobCheck(
            template=read_mapping(job.get("template"), f"{where} '{name}'.job.template"),
            timeout_seconds=timeout,
        ),
    )


def _http(raw: Mapping[str, Any], where: str) -> HttpCheck:
    """An HTTP check, with every field a release author controls bounded.

    The bounds keep one check's cost (time, bytes read, regex work) small and
    known in advance: checks run on the operator's event loop beside every other
    release. Messages never echo ``url``: it may carry credentials.
    """
    path = str(raw.get("path", defaults.HTTP_PATH))
    if not path.startswith("/"):
        raise SpecError(Reason.INVALID_CHECK, f"{where}: http.path must start with '/'")
    if len(path) > HTTP_PATH_MAX_CHARS or _UNSAFE_CHARS.search(path):
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: http.path must be at most {HTTP_PATH_MAX_CHARS} characters, "
            "without spaces or control characters",
        )
    body = raw.get("expectBody")
    if body is not None and len(str(body)) > HTTP_EXPECT_BODY_MAX_CHARS:
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: http.expectBody must be at most {HTTP_EXPECT_BODY_MAX_CHARS} characters",
        )
    regex = raw.get("expectBodyRegex")
    if regex is not None:
        _body_regex(str(regex), where)
    port = raw.get("port")
    url = raw.get("url")
    return HttpCheck(
        path=path,
        port=_check_int(port, f"{where}: http.port", PORT_MIN, PORT_MAX)
        if port is not None
        else None,
        url=_http_url(url, where) if url else None,
        expect_status=_check_int(
            raw.get("expectStatus", defaults.HTTP_EXPECT_STATUS),
            f"{where}: http.expectStatus",
            HTTP_STATUS_MIN,
            HTTP_STATUS_MAX,
        ),
        expect_body=str(body) if body is not None else None,
        expect_body_regex=str(regex) if regex is not None else None,
        timeout_seconds=_seconds(raw.get("timeoutSeconds", defaults.HTTP_TIMEOUT_SECONDS), where),
        attempts=_check_int(
            raw.get("attempts", defaults.HTTP_ATTEMPTS),
            f"{where}: http.attempts",
            1,
            HTTP_ATTEMPTS_MAX,
        ),
    )


def _metric(raw: Mapping[str, Any], where: str) -> MetricCheck:
    """A metric check: a bounded query template with known variables, and a condition."""
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise SpecError(Reason.INVALID_CHECK, f"{where}: metric.query must be a PromQL query")
    if len(query) > METRIC_QUERY_MAX_CHARS or _CONTROL_CHARS.search(query):
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: metric.query must be at most {METRIC_QUERY_MAX_CHARS} characters, "
            "without control characters",
        )
    unknown = unknown_variables(query)
    if unknown:
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: metric.query names unknown variables {unknown}; known: "
            "namespace, release, revision, previousRevision, window",
        )
    policy = raw.get("onInconclusive", defaults.METRIC_ON_INCONCLUSIVE)
    if policy not in set(InconclusivePolicy):
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: metric.onInconclusive must be {one_of(InconclusivePolicy)}",
        )
    interval = raw.get("intervalSeconds")
    check = MetricCheck(
        query=query,
        window_seconds=_metric_int(
            raw, "windowSeconds", where, METRIC_WINDOW_MIN, METRIC_WINDOW_MAX
        ),
        max=_number(raw.get("max"), f"{where}: metric.max"),
        min=_number(raw.get("min"), f"{where}: metric.min"),
        max_increase=_number(raw.get("maxIncrease"), f"{where}: metric.maxIncrease", 0),
        max_increase_percent=_number(
            raw.get("maxIncreasePercent"), f"{where}: metric.maxIncreasePercent", 0
        ),
        consecutive_failures=_metric_int(raw, "consecutiveFailures", where, 1, METRIC_FAILURES_MAX),
        interval_seconds=None
        if interval is None
        else _check_int(interval, f"{where}: metric.intervalSeconds", 1, MAX_DAY_SECONDS),
        on_inconclusive=InconclusivePolicy(policy),
        inconclusive_timeout_seconds=_metric_int(
            raw, "inconclusiveTimeoutSeconds", where, 1, METRIC_INCONCLUSIVE_TIMEOUT_MAX
        ),
        timeout_seconds=_metric_int(
            raw, "timeoutSeconds", where, METRIC_TIMEOUT_MIN, METRIC_TIMEOUT_MAX
        ),
    )
    bounds = (check.max, check.min, check.max_increase, check.max_increase_percent)
    if all(bound is None for bound in bounds):
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: metric needs a condition: max, min, maxIncrease or maxIncreasePercent",
        )
    return check


_METRIC_DEFAULTS: Mapping[str, int] = {
    "windowSeconds": defaults.METRIC_WINDOW_SECONDS,
    "consecutiveFailures": defaults.METRIC_CONSECUTIVE_FAILURES,
    "inconclusiveTimeoutSeconds": defaults.METRIC_INCONCLUSIVE_TIMEOUT_SECONDS,
    "timeoutSeconds": defaults.METRIC_TIMEOUT_SECONDS,
}


def _metric_int(raw: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    return _check_int(raw.get(key, _METRIC_DEFAULTS[key]), f"{where}: metric.{key}", low, high)


def _number(value: Any, where: str, minimum: float | None = None) -> float | None:
    """An optional finite number (an int is one too)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(Reason.INVALID_CHECK, f"{where} must be a finite number")
    if minimum is not None and value < minimum:
        raise SpecError(Reason.INVALID_CHECK, f"{where} must be at least {minimum:g}")
    return float(value)


def _check_int(value: Any, where: str, minimum: int, maximum: int) -> int:
    """``_int`` with the check's reason: every bad check field reads InvalidCheck."""
    try:
        return read_int(value, where, minimum=minimum, maximum=maximum)
    except SpecError as err:
        raise SpecError(Reason.INVALID_CHECK, err.message) from None


def _body_regex(pattern: str, where: str) -> None:
    if len(pattern) > HTTP_EXPECT_BODY_REGEX_MAX_CHARS:
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: http.expectBodyRegex must be at most "
            f"{HTTP_EXPECT_BODY_REGEX_MAX_CHARS} characters",
        )
    try:
        compile_body_regex(pattern)
    except BodyRegexError as err:
        raise SpecError(
            Reason.INVALID_CHECK, f"{where}: bad expectBodyRegex (RE2): {err}"
        ) from None


def _http_url(value: Any, where: str) -> str:
    """A base URL, ``http[s]://host[:port][/path]``; never quoted back (credentials)."""
    url = str(value)
    if len(url) > HTTP_URL_MAX_CHARS or _UNSAFE_CHARS.search(url):
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: http.url must be at most {HTTP_URL_MAX_CHARS} characters, "
            "without spaces or control characters",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SpecError(Reason.INVALID_CHECK, f"{where}: http.url is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise SpecError(Reason.INVALID_CHECK, f"{where}: http.url scheme must be http or https")
    if "@" in parts.netloc:
        raise SpecError(Reason.INVALID_CHECK, f"{where}: http.url must not carry credentials")
    if not parts.hostname:
        raise SpecError(Reason.INVALID_CHECK, f"{where}: http.url must name a host")
    if port == 0:
        raise SpecError(
            Reason.INVALID_CHECK, f"{where}: http.url port must be {PORT_MIN}..{PORT_MAX}"
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise SpecError(
            Reason.INVALID_CHECK, f"{where}: http.url must not have a query or fragment (use path)"
        )
    return url.rstrip("/")


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise SpecError(Reason.INVALID_CHECK, f"{where}: http.timeoutSeconds must be a number")
    if not HTTP_TIMEOUT_MIN <= value <= HTTP_TIMEOUT_MAX:
        raise SpecError(
            Reason.INVALID_CHECK,
            f"{where}: http.timeoutSeconds must be {HTTP_TIMEOUT_MIN}..{HTTP_TIMEOUT_MAX}",
        )
    return float(value)
