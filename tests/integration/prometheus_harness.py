"""A real Prometheus for tests, and a small /metrics endpoint for it to scrape.

``LocalPrometheus`` runs the Prometheus server binary (Debian's package by
default, ``BLUEGREEN_PROMETHEUS_BIN`` to name another) as a process of the test
on a free loopback port, with its data in the test's temporary folder and the
scrape configuration the test gives; queries go through its real HTTP API.
``MetricsEndpoint`` serves whatever Prometheus text the test sets, on its own
loopback port. Every wait has a deadline.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.integration.harness import free_port, wait_for

START_TIMEOUT_S = 30


def prometheus_binary() -> str:
    """The server binary; fails (never skips) when there is none: the tier needs it."""
    named = os.environ.get("BLUEGREEN_PROMETHEUS_BIN") or shutil.which("prometheus")
    if not named:
        raise AssertionError(
            "no prometheus binary: apt-get install prometheus (make deps), or set "
            "BLUEGREEN_PROMETHEUS_BIN"
        )
    return named


class LocalPrometheus:
    """A Prometheus process of this test, scraping ``scrape_configs`` every ``interval``."""

    def __init__(
        self, workdir: Path, scrape_configs: list[dict[str, Any]], interval: str = "1s"
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "scrape_configs": scrape_configs,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "prometheus.log"

    def start(self) -> LocalPrometheus:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    prometheus_binary(),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
            )
        wait_for(f"Prometheus ready on {self.url}", self._ready, timeout=START_TIMEOUT_S)
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result of an instant query (a vector's samples, or a one-item list)."""
        data = urllib.parse.urlencode({"query": promql}).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query", data=data, timeout=10) as r:
            document = json.loads(r.read())
        result = document["data"]["result"]
        if document["data"]["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return list(result)

    def wait_for_series(self, promql: str, count: int = 1, timeout: float = 30) -> None:
        """Until ``promql`` gives at least ``count`` samples (scraped and stored)."""
        wait_for(
            f"{count} sample(s) of {promql}",
            lambda: len(self.query(promql)) >= count,
            timeout=timeout,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class MetricsEndpoint:
    """``GET /metrics`` answers ``text`` (Prometheus' text format), set at any time."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = endpoint.text.encode()
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.target = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def static_job(name: str, targets: list[str], **labels: str) -> dict[str, Any]:
    """A scrape job of fixed targets, every series labelled ``labels``."""
    return {"job_name": name, "static_configs": [{"targets": targets, "labels": labels}]}


def until(what: str, probe: Any, timeout: float) -> Any:
    """``wait_for`` with a monotonic report of how long it took: (value, seconds)."""
    started = time.monotonic()
    value = wait_for(what, probe, timeout=timeout)
    return value, time.monotonic() - started
