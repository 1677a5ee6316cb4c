"""Demo web app for blue/green releases: one image, two versions, and bad ones.

The version comes from the environment so the same image can play V1 or V2;
an unknown version fails at start-up, before the pod turns ready, so a typo in
a release never serves the wrong text. APP_ERROR_RATE (a share, 0 to 1) makes
"/" answer 500 for that share of requests and APP_DELAY_SECONDS makes it slow:
a "bad v3" is the same image with another environment. The app measures
itself on /metrics (requests by path and status code, a latency histogram).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

MESSAGES: dict[str, str] = {
    "v1": "Spacelift App V1",
    "v2": "Spacelift App V2 🚀",
}
DEFAULT_VERSION = "v1"


class ConfigError(ValueError):
    """The environment asks for something the app cannot serve."""


def resolve_message(env: Mapping[str, str]) -> str:
    """The text served on "/": APP_MESSAGE if set, else the one for APP_VERSION."""
    version = env.get("APP_VERSION", DEFAULT_VERSION).strip().lower() or DEFAULT_VERSION
    if version not in MESSAGES:
        known = ", ".join(sorted(MESSAGES))
        raise ConfigError(f"APP_VERSION={version!r} is not one of: {known}")
    override = env.get("APP_MESSAGE")
    # An empty override is almost certainly a templating slip; keep the default.
    return override if override else MESSAGES[version]


MAX_DELAY_SECONDS = 60.0


@dataclass(frozen=True)
class Misbehaviour:
    """How badly "/" answers: a share of 500s, and a delay before every answer."""

    error_rate: float = 0.0
    delay_seconds: float = 0.0


def resolve_misbehaviour(env: Mapping[str, str]) -> Misbehaviour:
    """APP_ERROR_RATE and APP_DELAY_SECONDS, checked: a bad value fails at start-up."""
    rate = _number(env, "APP_ERROR_RATE", 0.0, 1.0)
    delay = _number(env, "APP_DELAY_SECONDS", 0.0, MAX_DELAY_SECONDS)
    return Misbehaviour(error_rate=rate, delay_seconds=delay)


def _number(env: Mapping[str, str], name: str, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return low
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{name}={raw!r} is not between {low:g} and {high:g}")
    return value


class ErrorShare:
    """Exactly ``rate`` of the requests so far fail, spread evenly (no randomness):
    request n fails when floor(n * rate) grows."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.served = 0
        self.lock = threading.Lock()

    def next_fails(self) -> bool:
        with self.lock:
            self.served += 1
            return math.floor(self.served * self.rate) > math.floor((self.served - 1) * self.rate)


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    """Build the app; raises ConfigError on a bad environment."""
    environment = os.environ if env is None else env
    message = resolve_message(environment)
    misbehaviour = resolve_misbehaviour(environment)
    errors = ErrorShare(misbehaviour.error_rate)
    registry = CollectorRegistry()
    requests = Counter(
        "app_requests",
        "Requests answered, by path and status code",
        ["path", "code"],
        registry=registry,
    )
    latency = Histogram(
        "app_request_duration_seconds",
        "Time to answer, by path",
        ["path"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    app = Flask(__name__)

    @app.before_request
    def started() -> None:
        request.environ["app.started"] = time.monotonic()

    @app.after_request
    def measured(response: Response) -> Response:
        if request.path != "/metrics":
            path = request.path if request.path in ("/", "/healthz") else "other"
            requests.labels(path, str(response.status_code)).inc()
            elapsed = time.monotonic() - request.environ.get("app.started", time.monotonic())
            latency.labels(path).observe(elapsed)
        return response

    @app.get("/")
    def index() -> tuple[str, int, dict[str, str]]:
        if misbehaviour.delay_seconds:
            time.sleep(misbehaviour.delay_seconds)  # the slowness asked for
        if errors.next_fails():
            return "injected error", 500, {"Content-Type": "text/plain; charset=utf-8"}
        return message, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/metrics")
    def metrics() -> tuple[bytes, int, dict[str, str]]:
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Blue/green demo app")
    parser.add_argument("--host", default=os.environ.get("APP_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("APP_PORT", "5000")))
    args = parser.parse_args(argv)
    try:
        app = create_app()
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    # As PID 1 in a container, Python ignores SIGTERM unless a handler is set, and
    # the pod would wait out its whole grace period before SIGKILL.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
