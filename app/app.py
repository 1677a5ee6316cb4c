"""Demo web app for blue/green releases: one image, two versions, and bad ones.

The version comes from the environment so the same image can play V1 or V2;
an unknown version fails at start-up, before the pod turns ready, so a typo in
a release never serves the wrong text. APP_ERROR_RATE (a share, 0 to 1) makes
"/" answer 500 for that share of requests and APP_DELAY_SECONDS makes it slow:
a "bad v3" is the same image with another environment. The app measures
itself on /metrics (requests by path and status code, a latency histogram).

With APP_DATABASE_URL (a libpq connection string) the app also keeps rows in
PostgreSQL (/items), the way a stateful app's versions share one schema: v1
writes and reads (id, text); v2 also writes and reads the column written_by,
which its expand migration adds as nullable and its contract migration makes
required. The migrations ship in the same image: `app.py --migrate STEP`.
Without APP_DATABASE_URL nothing touches a database and /items is 404.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

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


def resolve_version(env: Mapping[str, str]) -> str:
    """APP_VERSION, normalised; an unknown one is a ConfigError."""
    version = env.get("APP_VERSION", DEFAULT_VERSION).strip().lower() or DEFAULT_VERSION
    if version not in MESSAGES:
        known = ", ".join(sorted(MESSAGES))
        raise ConfigError(f"APP_VERSION={version!r} is not one of: {known}")
    return version


def resolve_message(env: Mapping[str, str]) -> str:
    """The text served on "/": APP_MESSAGE if set, else the one for APP_VERSION."""
    version = resolve_version(env)
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


# ---- Database mode (APP_DATABASE_URL) ----------------------------------------

TABLE = "items"
NEW_COLUMN = "written_by"
"""The column v2 needs: nullable after expand, required after contract."""
MAX_TEXT = 200
MAX_LIMIT = 100
POOL_SIZE = 8
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 5000
LOCK_TIMEOUT_MS = 5000
"""A migration waits at most this long for its lock, and fails (its Job retries)
rather than queue every request of the app behind it."""
MIGRATION_TIMEOUT_MS = 60_000

# Each step is idempotent: a hook Job that is retried, or run again by hand,
# finds its work done and succeeds.
MIGRATIONS: dict[str, tuple[str, ...]] = {
    # v1's schema, created by v1's own pre-switch hook.
    "init": (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "id bigserial PRIMARY KEY, text text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())",
    ),
    # Expand, before v2 takes traffic: a nullable column v1 never names, so v1
    # keeps working (and a rollback to it too).
    "expand": (f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {NEW_COLUMN} text",),
    # Contract, once v1 is gone: the rows v1 wrote get the value they stand for,
    # then the column is required. One transaction: no row can slip in between.
    "contract": (
        f"UPDATE {TABLE} SET {NEW_COLUMN} = 'v1' WHERE {NEW_COLUMN} IS NULL",
        f"ALTER TABLE {TABLE} ALTER COLUMN {NEW_COLUMN} SET NOT NULL",
    ),
}


class DatabaseError(RuntimeError):
    """The database did not answer, or refused the statement."""


class Cursor(Protocol):
    def execute(self, query: str, params: Sequence[object] = ...) -> object: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def close(self) -> None: ...


class Connection(Protocol):
    closed: int
    autocommit: bool

    def cursor(self) -> Cursor: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def _driver() -> Any:
    """psycopg2, imported only in database mode (the image has Debian's package)."""
    try:
        return importlib.import_module("psycopg2")
    except ImportError:
        raise ConfigError("APP_DATABASE_URL is set but psycopg2 is not installed") from None


def connector(url: str) -> Callable[[], Connection]:
    """A function opening a new connection to ``url``; driver errors become DatabaseError."""
    driver = _driver()
    options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"

    def connect() -> Connection:
        try:
            conn: Connection = driver.connect(
                url, connect_timeout=CONNECT_TIMEOUT_S, options=options
            )
        except driver.Error as exc:
            raise DatabaseError(_one_line(exc)) from None
        return conn

    return connect


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


class Pool:
    """At most ``size`` connections; a request waits ``wait_s`` for one, then fails.

    A connection that raised is closed rather than handed to the next request.
    """

    def __init__(self, connect: Callable[[], Connection], size: int, wait_s: float = 5.0) -> None:
        self._connect, self._wait_s = connect, wait_s
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if not self._slots.acquire(timeout=self._wait_s):
            raise DatabaseError("every database connection is busy")
        conn: Connection | None = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self._connect()
                conn.autocommit = True
            yield conn
        except BaseException:
            if conn is not None:
                conn.close()
                conn = None
            raise
        finally:
            if conn is not None:
                with self._lock:
                    self._idle.append(conn)
            self._slots.release()


class Rows:
    """The ``items`` table as one app version sees it: v1 without the new column."""

    def __init__(self, pool: Pool, version: str) -> None:
        self.pool, self.version = pool, version
        self.columns = ("id", "text") if version == "v1" else ("id", "text", NEW_COLUMN)

    def _run(self, query: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        driver = _driver()
        try:
            with self.pool.connection() as conn:
                cursor = conn.cursor()
                try:
                    cursor.execute(query, params)
                    return cursor.fetchall()
                finally:
                    cursor.close()
        except driver.Error as exc:
            raise DatabaseError(_one_line(exc)) from None

    def add(self, text: str) -> int:
        if self.version == "v1":
            rows = self._run(f"INSERT INTO {TABLE} (text) VALUES (%s) RETURNING id", (text,))
        else:
            rows = self._run(
                f"INSERT INTO {TABLE} (text, {NEW_COLUMN}) VALUES (%s, %s) RETURNING id",
                (text, self.version),
            )
        return int(rows[0][0])

    def recent(self, limit: int) -> list[dict[str, object]]:
        names = ", ".join(self.columns)
        rows = self._run(f"SELECT {names} FROM {TABLE} ORDER BY id DESC LIMIT %s", (limit,))
        return [dict(zip(self.columns, row, strict=True)) for row in rows]

    def get(self, row_id: int) -> dict[str, object] | None:
        names = ", ".join(self.columns)
        rows = self._run(f"SELECT {names} FROM {TABLE} WHERE id = %s", (row_id,))
        return dict(zip(self.columns, rows[0], strict=True)) if rows else None


class Store(Protocol):
    """What the /items routes need of the database (a fake in unit tests)."""

    def add(self, text: str) -> int: ...
    def recent(self, limit: int) -> list[dict[str, object]]: ...
    def get(self, row_id: int) -> dict[str, object] | None: ...


def migrate(step: str, connect: Callable[[], Connection]) -> str:
    """Run one step of MIGRATIONS in one transaction; returns what was done."""
    statements = MIGRATIONS[step]
    driver = _driver()
    conn = connect()
    try:
        cursor = conn.cursor()
        cursor.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        cursor.execute(f"SET LOCAL statement_timeout = {MIGRATION_TIMEOUT_MS}")
        changed = []
        for statement in statements:
            cursor.execute(statement)
            changed.append(f"{statement} ({getattr(cursor, 'statusmessage', '')})")
        conn.commit()
        return "; ".join(changed)
    except driver.Error as exc:
        raise DatabaseError(_one_line(exc)) from None
    finally:
        conn.close()  # uncommitted work is rolled back by the server


def _json(payload: object, status: int = 200) -> tuple[str, int, dict[str, str]]:
    return json.dumps(payload, sort_keys=True), status, {"Content-Type": "application/json"}


def add_item_routes(app: Flask, store: Store, version: str) -> None:
    """/items: POST {"text": ...} writes a row; GET reads the latest, or one by id.

    Every answer names the version that gave it, so a test can tell them apart.
    """

    def failed(exc: DatabaseError) -> tuple[str, int, dict[str, str]]:
        app.logger.warning("database: %s", exc)
        return _json({"version": version, "error": str(exc)}, 503)

    @app.post("/items")
    def add_item() -> tuple[str, int, dict[str, str]]:
        payload = request.get_json(silent=True)
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            return _json({"version": version, "error": f"text: 1 to {MAX_TEXT} chars"}, 400)
        try:
            row_id = store.add(text)
        except DatabaseError as exc:
            return failed(exc)
        return _json({"version": version, "id": row_id}, 201)

    @app.get("/items")
    def list_items() -> tuple[str, int, dict[str, str]]:
        limit = request.args.get("limit", default=10, type=int) or 10
        try:
            items = store.recent(max(1, min(limit, MAX_LIMIT)))
        except DatabaseError as exc:
            return failed(exc)
        return _json({"version": version, "items": items})

    @app.get("/items/<int:row_id>")
    def get_item(row_id: int) -> tuple[str, int, dict[str, str]]:
        try:
            item = store.get(row_id)
        except DatabaseError as exc:
            return failed(exc)
        if item is None:
            return _json({"version": version, "error": "no such item"}, 404)
        return _json({"version": version, "item": item})


ITEM_PATHS = ("/items", "/items/<int:row_id>")
KNOWN_PATHS = ("/", "/healthz", *ITEM_PATHS)


def create_app(env: Mapping[str, str] | None = None, store: Store | None = None) -> Flask:
    """Build the app; raises ConfigError on a bad environment.

    ``store``: the database behind /items; by default the one APP_DATABASE_URL
    names (connected at the first request), or none.
    """
    environment = os.environ if env is None else env
    version = resolve_version(environment)
    message = resolve_message(environment)
    url = environment.get("APP_DATABASE_URL", "").strip()
    if store is None and url:
        store = Rows(Pool(connector(url), POOL_SIZE), version)
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
            rule = request.url_rule.rule if request.url_rule else ""
            path = rule if rule in KNOWN_PATHS else "other"
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

    if store is not None:
        add_item_routes(app, store, version)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Blue/green demo app")
    parser.add_argument("--host", default=os.environ.get("APP_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("APP_PORT", "5000")))
    parser.add_argument(
        "--migrate",
        choices=sorted(MIGRATIONS),
        help="run this schema migration against APP_DATABASE_URL and exit (a hook Job)",
    )
    args = parser.parse_args(argv)
    if args.migrate:
        run_migration(parser, args.migrate)
        return
    try:
        app = create_app()
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    # As PID 1 in a container, Python ignores SIGTERM unless a handler is set, and
    # the pod would wait out its whole grace period before SIGKILL.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    app.run(host=args.host, port=args.port)


def run_migration(parser: argparse.ArgumentParser, step: str) -> None:
    """``--migrate STEP``: exit 0 once done, 1 if the database refused, 2 on bad input."""
    url = os.environ.get("APP_DATABASE_URL", "").strip()
    if not url:
        parser.exit(2, "error: --migrate needs APP_DATABASE_URL\n")
    try:
        done = migrate(step, connector(url))
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    except DatabaseError as exc:
        parser.exit(1, f"migration {step} failed: {exc}\n")
    print(f"migration {step}: {done}")


if __name__ == "__main__":
    main()
