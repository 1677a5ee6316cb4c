"""The load generator's bookkeeping, without a cluster: a local HTTP server
switches its answer from V1 to V2 mid-run, then stops answering."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.traffic import LoadGenerator, Request, Sample, analyse_switch, get


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b"Spacelift App V1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def do_POST(self) -> None:
        sent = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", str(len(sent)))
        self.end_headers()
        self.wfile.write(sent)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_switch_is_measured_from_live_requests(server: http.server.ThreadingHTTPServer) -> None:
    port = server.server_address[1]
    with LoadGenerator("127.0.0.1", port, workers=2, max_seconds=20) as load:
        deadline = time.monotonic() + 10
        while load.count() < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        switch_at = time.monotonic()
        _Handler.body = b"Spacelift App V2"
        target = load.count() + 50
        while load.count() < target and time.monotonic() < deadline:
            time.sleep(0.01)
        samples = load.stop()
    _Handler.body = b"Spacelift App V1"
    report = analyse_switch(samples, switch_at, old="V1", new="V2")
    assert report.sent == len(samples) >= 100
    assert report.failed == 0
    assert report.first_new_after_s is not None and report.first_new_after_s >= 0
    assert report.flaps == 0
    assert report.mixed_s < 0.5


def test_failures_and_flaps_are_counted() -> None:
    def sample(t: float, body: str = "", error: str | None = None) -> Sample:
        return Sample(t, t + 0.01, None if error else 200, body, error)

    samples = [
        sample(0.0, "V1"),
        sample(1.0, "V2"),
        sample(1.5, "V1"),  # old answer after the first new one
        sample(2.0, error="ConnectionResetError"),
        sample(3.0, "V2"),
    ]
    report = analyse_switch(samples, 0.9, old="V1", new="V2")
    assert (report.sent, report.failed, report.flaps) == (5, 1, 1)
    assert report.first_new_after_s == pytest.approx(0.11)
    assert report.last_old_after_s == pytest.approx(0.61)
    assert report.mixed_s == pytest.approx(0.5)


def test_a_closed_port_is_a_failed_sample_not_an_exception() -> None:
    result = get("127.0.0.1", 1, timeout=0.5)
    assert not result.ok and result.error is not None


def test_a_plan_of_reads_and_writes_is_cycled_by_each_worker(
    server: http.server.ThreadingHTTPServer,
) -> None:
    port = server.server_address[1]
    plan = [Request("POST", "/items", b'{"text": "x"}'), Request("GET", "/items")]
    with LoadGenerator("127.0.0.1", port, workers=2, max_seconds=20, plan=plan) as load:
        deadline = time.monotonic() + 10
        while load.count() < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        samples = load.stop()
    writes = [s for s in samples if s.method == "POST"]
    reads = [s for s in samples if s.method == "GET"]
    assert len(samples) >= 40 and all(s.path == "/items" for s in samples)
    assert abs(len(writes) - len(reads)) <= 2  # each worker alternates
    assert all(s.ok and s.status == 201 and s.body == '{"text": "x"}' for s in writes)
    assert all(s.ok and s.status == 200 for s in reads)
