"""The Prometheus adapter against the real Prometheus server.

The test's own Prometheus scrapes a small local /metrics endpoint every second;
``adapters.prometheus.Prometheus`` asks it the queries metric checks ask, and
each kind of answer must come back as the right ``QueryResult``: one number, no
data, a rejected query, a result that is not one number or too large, and no
Prometheus at all (nothing listening, or a server that never answers).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bluegreen.adapters.prometheus import RESULT_LIMIT, Prometheus
from bluegreen.core.metric_checks import MetricQuery, QueryOutcome, QueryResult
from bluegreen.core.timefmt import format_time
from tests.integration.harness import free_port
from tests.integration.prometheus_harness import LocalPrometheus, MetricsEndpoint, static_job

WIDE = 3000
"""Series of ``wide``: with their long label, well over the adapter's read cap."""
METRICS = "\n".join(
    [
        'kpi{revision="aaa"} 0.2',
        'kpi{revision="bbb"} 0.01',
        "ratio_nan NaN",
        "big 1e300",
        *(f'wide{{i="{i}",pad="{"p" * 100}"}} {i}' for i in range(WIDE)),
        "",
    ]
)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    endpoint = MetricsEndpoint(METRICS)
    server = LocalPrometheus(
        tmp_path_factory.mktemp("prometheus"), [static_job("local", [endpoint.target])]
    ).start()
    try:
        server.wait_for_series('kpi{revision="aaa"}')
        server.wait_for_series("wide", count=WIDE)
        yield server
    finally:
        server.stop()
        endpoint.stop()


def ask(url: str, *queries: MetricQuery) -> list[QueryResult]:
    return asyncio.run(Prometheus(url).query_all(list(queries)))


def one(url: str, promql: str, timeout: float = 5, at: str = "") -> QueryResult:
    (result,) = ask(url, MetricQuery(promql, timeout, at))
    return result


def test_one_series_and_a_scalar_are_one_number(prometheus: LocalPrometheus) -> None:
    assert one(prometheus.url, 'kpi{revision="aaa"}') == QueryResult(QueryOutcome.VALUE, 0.2)
    assert one(prometheus.url, 'scalar(kpi{revision="bbb"})').value == 0.01
    assert one(prometheus.url, "sum(kpi)").value == pytest.approx(0.21)
    assert one(prometheus.url, "big * 1e10").value == float("inf")


def test_queries_are_answered_in_order_together(prometheus: LocalPrometheus) -> None:
    asked = [MetricQuery(f'kpi{{revision="{r}"}}', 5) for r in ("bbb", "aaa", "zzz")]
    answers = ask(prometheus.url, *asked)
    assert [a.outcome for a in answers] == ["value", "value", "noData"]
    assert [a.value for a in answers[:2]] == [0.01, 0.2]


def test_no_series_and_nan_are_no_data(prometheus: LocalPrometheus) -> None:
    empty = one(prometheus.url, 'kpi{revision="zzz"}')
    assert (empty.outcome, empty.message) == (QueryOutcome.NO_DATA, "the query gave no series")
    assert one(prometheus.url, "ratio_nan").outcome == QueryOutcome.NO_DATA
    assert one(prometheus.url, "sum(kpi) / 0 * 0").outcome == QueryOutcome.NO_DATA


def test_the_evaluation_time_is_sent(prometheus: LocalPrometheus) -> None:
    """A query at a time before anything was scraped finds nothing: ``time`` was used."""
    long_ago = format_time(datetime.now(UTC) - timedelta(hours=1))
    assert one(prometheus.url, 'kpi{revision="aaa"}', at=long_ago).outcome == "noData"
    # Stamps have whole seconds: a moment just ahead still sees the latest sample.
    soon = format_time(datetime.now(UTC) + timedelta(seconds=2))
    assert one(prometheus.url, 'kpi{revision="aaa"}', at=soon).value == 0.2


@pytest.mark.parametrize(
    ("promql", "words"),
    [
        ("sum(", "bad_data"),
        ("kpi", "the query gave 2 series, not one"),
        ("kpi[1m]", "a matrix result, not one number"),
        ('"a string"', "a string result, not one number"),
        ("wide", f"larger than {RESULT_LIMIT} bytes"),
    ],
)
def test_queries_that_cannot_give_one_number_are_rejected(
    prometheus: LocalPrometheus, promql: str, words: str
) -> None:
    result = one(prometheus.url, promql)
    assert result.outcome == QueryOutcome.REJECTED, result
    assert words in result.message
    assert len(result.message) <= 200


def test_nothing_listening_is_unreachable() -> None:
    result = one(f"http://127.0.0.1:{free_port()}", "up")
    assert result.outcome == QueryOutcome.UNREACHABLE
    assert result.message == "ClientConnectorError"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_is_unreachable_within_the_timeout(silent_server: int) -> None:
    started = asyncio.run(_timed(f"http://127.0.0.1:{silent_server}"))
    result, took = started
    assert result.outcome == QueryOutcome.UNREACHABLE
    assert result.message == "no answer within 3s"  # its timeout, and 2 s for the transport
    assert 3.0 <= took < 6.0


async def _timed(url: str) -> tuple[QueryResult, float]:
    loop = asyncio.get_running_loop()
    begun = loop.time()
    (result,) = await Prometheus(url).query_all([MetricQuery("up", 1)])
    return result, loop.time() - begun


def test_without_a_url_every_query_is_unreachable_and_says_why(tmp_path: Path) -> None:
    (result,) = asyncio.run(Prometheus(None).query_all([MetricQuery("up", 1)]))
    assert result.outcome == QueryOutcome.UNREACHABLE
    assert "--prometheus-url" in result.message
