"""A bounded HTTP load generator for live-traffic tests on the real node.

Each request opens a new TCP connection, so every request is routed by the
Service's current kube-proxy rules (a kept-alive connection would stay pinned
to the pod it first reached and hide a switch). Requests only ever go to
addresses on this machine: pod and Service IPs of the local real node.
By default every request is ``GET /``; a plan of requests (reads and writes of
the app's /items, say) is cycled through by each worker instead.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
import time
from collections.abc import Sequence

# After a selector patch, kube-proxy rewrites its rules as the EndpointSlice
# updates arrive, which may take more than one write: for a moment new
# connections can reach old and new pods alike. Past this bound, traffic
# going back to the old version would be flapping, not propagation.
MAX_MIXED_S = 2.0


@dataclasses.dataclass(frozen=True)
class Sample:
    """One request: when it started and ended (monotonic), and its outcome."""

    start: float
    end: float
    status: int | None
    body: str
    error: str | None = None
    method: str = "GET"
    path: str = "/"

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclasses.dataclass(frozen=True)
class Request:
    """One request of a load plan; ``body`` is sent as JSON."""

    method: str = "GET"
    path: str = "/"
    body: bytes | None = None


def send(host: str, port: int, req: Request, timeout: float = 2.0) -> Sample:
    """One request on a fresh connection; never raises."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"Connection": "close"}
    if req.body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(req.method, req.path, body=req.body, headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        return Sample(start, time.monotonic(), resp.status, body, None, req.method, req.path)
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
        return Sample(start, time.monotonic(), None, "", error, req.method, req.path)
    finally:
        conn.close()


def get(host: str, port: int, path: str = "/", timeout: float = 2.0) -> Sample:
    """One GET on a fresh connection; never raises."""
    return send(host, port, Request("GET", path), timeout)


class LoadGenerator:
    """Sends GETs from a few threads until stopped, or until its hard limits.

    The limits (``max_seconds``, ``max_requests``) bound every run even if a
    test forgets to stop it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        workers: int = 4,
        max_seconds: float = 300.0,
        max_requests: int = 200_000,
        timeout: float = 2.0,
        pause: float = 0.0,
        plan: Sequence[Request] = (Request(),),
    ) -> None:
        """``pause``: seconds each worker waits between two requests (0: none), which
        bounds the rate and the memory of a long run. ``plan``: the requests each
        worker sends in turn, worker i starting at the i-th."""
        self.host, self.port, self.timeout, self.pause = host, port, timeout, pause
        self.plan = tuple(plan)
        self.max_seconds, self.max_requests = max_seconds, max_requests
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"load-{i}", daemon=True)
            for i in range(workers)
        ]
        self._started = 0.0

    def __enter__(self) -> LoadGenerator:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, worker: int) -> None:
        deadline = self._started + self.max_seconds
        turn = worker
        while not self._stop.is_set() and time.monotonic() < deadline:
            req = self.plan[turn % len(self.plan)]
            turn += 1
            sample = send(self.host, self.port, req, timeout=self.timeout)
            with self._lock:
                if len(self._samples) >= self.max_requests:
                    return
                self._samples.append(sample)
            if self.pause:
                self._stop.wait(self.pause)

    def stop(self) -> list[Sample]:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=self.timeout + 5)
        return self.samples

    @property
    def samples(self) -> list[Sample]:
        with self._lock:
            return sorted(self._samples, key=lambda s: s.start)

    def count(self) -> int:
        with self._lock:
            return len(self._samples)

    def seen(self, text: str) -> bool:
        with self._lock:
            return any(text in s.body for s in self._samples)


@dataclasses.dataclass(frozen=True)
class SwitchReport:
    """What the traffic saw around one switch from ``old`` to ``new`` text."""

    sent: int
    failed: int
    first_new_after_s: float | None  # from the switch instant to the first new answer
    last_old_after_s: float | None  # from the switch instant to the last old answer
    flaps: int  # old answers to requests that started after the first new answer
    failures: list[Sample]

    @property
    def mixed_s(self) -> float:
        """How long old and new answers were interleaved (kube-proxy catching up)."""
        if self.first_new_after_s is None or self.last_old_after_s is None:
            return 0.0
        return max(0.0, self.last_old_after_s - self.first_new_after_s)

    def summary(self) -> str:
        def fmt(value: float | None) -> str:
            return "n/a" if value is None else f"{value * 1000:.0f} ms"

        return (
            f"sent={self.sent} failed={self.failed} first_new={fmt(self.first_new_after_s)} "
            f"last_old={fmt(self.last_old_after_s)} mixed={fmt(self.mixed_s)} "
            f"old_after_first_new={self.flaps}"
        )


def analyse_switch(samples: list[Sample], switch_at: float, old: str, new: str) -> SwitchReport:
    """Failures, switch latency and flapping for ``samples`` around ``switch_at``.

    Requests are ordered by start time. A flap is an ``old`` answer to a
    request that started after some request had already got ``new``.
    """
    failures = [s for s in samples if not s.ok]
    news = [s for s in samples if s.ok and new in s.body]
    olds = [s for s in samples if s.ok and old in s.body]
    first_new = min((s.end for s in news), default=None)
    last_old = max((s.end for s in olds), default=None)
    flaps = 0
    if first_new is not None:
        flaps = sum(1 for s in olds if s.start > first_new)
    return SwitchReport(
        sent=len(samples),
        failed=len(failures),
        first_new_after_s=None if first_new is None else first_new - switch_at,
        last_old_after_s=None if last_old is None else last_old - switch_at,
        flaps=flaps,
        failures=failures[:10],
    )
