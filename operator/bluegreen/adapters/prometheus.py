"""Instant queries to Prometheus for metric checks; no decisions.

Each query is bounded: Prometheus gets the check's timeout as its own
(``timeout=``), the request lives under that timeout plus a little, and at most
``RESULT_LIMIT`` bytes of answer are read. What comes back is turned into a
``QueryResult``: one number, no data (an empty vector, NaN), unreachable (no
answer, a timeout, a 5xx) or rejected (a query Prometheus refuses, or a result
that is not one number). Messages never quote the query or the body beyond
Prometheus' own short error, bounded.

The address comes from the operator's ``--prometheus-url``: an operator
setting, not something a release author writes, so it is not subject to the
check policy of HTTP checks.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from bluegreen.core.metric_checks import MetricQuery, QueryOutcome, QueryResult, bounded

RESULT_LIMIT: Final = 256 * 1024
"""Bytes of answer read at most: one number needs a few hundred."""
TRANSPORT_GRACE_SECONDS: Final = 2.0
"""On top of the query's own timeout, for the connection and the answer to travel."""
MAX_CONCURRENT: Final = 8
"""Queries in flight at once towards Prometheus, across a step's checks."""

UNCONFIGURED: Final = "no Prometheus configured (operator flag --prometheus-url)"


class ResultTooLargeError(Exception):
    pass


def check_url(url: str) -> str:
    """The base URL, validated (``http[s]://host[:port][/prefix]``); raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    if parts.query or parts.fragment:
        raise ValueError("the Prometheus URL must not have a query or fragment")
    return url.rstrip("/")


class Prometheus:
    """The ``MetricQueryPort`` of the reconciler, against one Prometheus server."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = check_url(base_url) if base_url else None

    async def query_all(self, queries: Sequence[MetricQuery]) -> list[QueryResult]:
        """Every query at once (at most ``MAX_CONCURRENT`` in flight); results in order."""
        if not queries:
            return []
        if self.base_url is None:
            return [QueryResult(QueryOutcome.UNREACHABLE, message=UNCONFIGURED) for _ in queries]
        limit = asyncio.Semaphore(MAX_CONCURRENT)
        connector = aiohttp.TCPConnector(limit=MAX_CONCURRENT, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(query: MetricQuery) -> QueryResult:
                async with limit:
                    return await self.query(session, query)

            return list(await asyncio.gather(*(one(q) for q in queries)))

    async def query(self, session: aiohttp.ClientSession, query: MetricQuery) -> QueryResult:
        form = {"query": query.promql, "timeout": f"{query.timeout_seconds:g}s"}
        if query.at:
            form["time"] = query.at
        budget = query.timeout_seconds + TRANSPORT_GRACE_SECONDS
        try:
            async with asyncio.timeout(budget):
                async with session.post(
                    f"{self.base_url}/api/v1/query", data=form, allow_redirects=False
                ) as response:
                    body = await _read_capped(response.content, RESULT_LIMIT)
                    return interpret(response.status, body)
        except TimeoutError:
            return QueryResult(QueryOutcome.UNREACHABLE, message=f"no answer within {budget:g}s")
        except ResultTooLargeError:
            return QueryResult(
                QueryOutcome.REJECTED, message=f"the answer is larger than {RESULT_LIMIT} bytes"
            )
        except (aiohttp.ClientError, OSError) as err:
            return QueryResult(QueryOutcome.UNREACHABLE, message=type(err).__name__)


def interpret(status: int, body: bytes) -> QueryResult:
    """What an answer of ``/api/v1/query`` says (no side effects)."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        if status >= 500 or status == 429:
            return QueryResult(QueryOutcome.UNREACHABLE, message=f"Prometheus answered {status}")
        return QueryResult(
            QueryOutcome.UNREACHABLE, message=f"not a Prometheus answer (status {status})"
        )
    if document.get("status") != "success":
        error = bounded(f"{document.get('errorType', 'error')}: {document.get('error', '')}")
        # 400 bad_data, 422 execution: the query is at fault, asking again cannot help.
        # 503 timeout or unavailable, and anything else: Prometheus is.
        if status in (400, 422):
            return QueryResult(QueryOutcome.REJECTED, message=error)
        return QueryResult(QueryOutcome.UNREACHABLE, message=f"status {status}, {error}")
    return _result(document.get("data"))


def _result(data: Any) -> QueryResult:
    if not isinstance(data, dict):
        return QueryResult(QueryOutcome.UNREACHABLE, message="an answer without data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _number(result)
    if kind == "vector" and isinstance(result, list):
        if not result:
            return QueryResult(QueryOutcome.NO_DATA, message="the query gave no series")
        if len(result) > 1:
            return QueryResult(
                QueryOutcome.REJECTED,
                message=f"the query gave {len(result)} series, not one: aggregate it "
                "(sum, max, ...)",
            )
        sample = result[0]
        return _number(sample.get("value") if isinstance(sample, dict) else None)
    return QueryResult(
        QueryOutcome.REJECTED, message=f"the query gave a {kind} result, not one number"
    )


def _number(pair: Any) -> QueryResult:
    """A ``[timestamp, "value"]`` pair as Prometheus writes samples."""
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return QueryResult(QueryOutcome.UNREACHABLE, message="a sample that is not a number")
    if math.isnan(value):
        return QueryResult(QueryOutcome.NO_DATA, message="the query gave NaN")
    return QueryResult.of(value)


async def _read_capped(content: aiohttp.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ResultTooLargeError
