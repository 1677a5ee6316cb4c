"""The demo app serves the right text per version and refuses unknown ones."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

APP_PATH = Path(__file__).resolve().parents[1] / "app.py"


def _load() -> ModuleType:
    # app/ is not a package (it ships as a single file in its image), so load it by path.
    spec = importlib.util.spec_from_file_location("bluegreen_demo_app", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


demo = _load()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "Spacelift App V1"),
        ({"APP_VERSION": "v1"}, "Spacelift App V1"),
        ({"APP_VERSION": "v2"}, "Spacelift App V2 🚀"),
        ({"APP_VERSION": " V2 "}, "Spacelift App V2 🚀"),
        ({"APP_VERSION": "v2", "APP_MESSAGE": "custom"}, "custom"),
        ({"APP_VERSION": "v2", "APP_MESSAGE": ""}, "Spacelift App V2 🚀"),
    ],
)
def test_index_serves_the_version_text(env: dict[str, str], expected: str) -> None:
    client = demo.create_app(env).test_client()
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == expected
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_healthz(version: str) -> None:
    client = demo.create_app({"APP_VERSION": version}).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"


def test_unknown_path_is_404() -> None:
    assert demo.create_app({}).test_client().get("/nope").status_code == 404


@pytest.mark.parametrize("version", ["v3", "latest", "1"])
def test_unknown_version_fails_at_startup(version: str) -> None:
    with pytest.raises(demo.ConfigError, match="APP_VERSION"):
        demo.create_app({"APP_VERSION": version})


def test_main_exits_2_on_bad_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_VERSION", "v9")
    with pytest.raises(SystemExit) as exited:
        demo.main(["--port", "0"])
    assert exited.value.code == 2
    assert "APP_VERSION='v9'" in capsys.readouterr().err


def test_metrics_count_requests_by_path_and_code() -> None:
    client = demo.create_app({"APP_VERSION": "v1"}).test_client()
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert client.get("/healthz").status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert 'app_requests_total{code="200",path="/"} 3.0' in text
    assert 'app_requests_total{code="200",path="/healthz"} 1.0' in text
    assert 'app_request_duration_seconds_count{path="/"} 3.0' in text
    assert "/metrics" not in text  # scrapes are not traffic


@pytest.mark.parametrize(("rate", "failed"), [(0.0, 0), (0.25, 25), (0.5, 50), (1.0, 100)])
def test_an_error_rate_fails_exactly_that_share(rate: float, failed: int) -> None:
    client = demo.create_app({"APP_ERROR_RATE": str(rate)}).test_client()
    codes = [client.get("/").status_code for _ in range(100)]
    assert codes.count(500) == failed
    assert codes.count(200) == 100 - failed
    assert client.get("/healthz").status_code == 200  # probes stay green: the pod serves
    text = client.get("/metrics").get_data(as_text=True)
    if failed:
        assert f'app_requests_total{{code="500",path="/"}} {float(failed)}' in text


def test_a_delay_slows_every_answer() -> None:
    client = demo.create_app({"APP_DELAY_SECONDS": "0.05"}).test_client()
    started = demo.time.monotonic()
    assert client.get("/").status_code == 200
    assert demo.time.monotonic() - started >= 0.05
    text = client.get("/metrics").get_data(as_text=True)
    assert 'app_request_duration_seconds_bucket{le="0.05",path="/"} 0.0' in text


@pytest.mark.parametrize(
    "env",
    [
        {"APP_ERROR_RATE": "1.5"},
        {"APP_ERROR_RATE": "-0.1"},
        {"APP_ERROR_RATE": "half"},
        {"APP_ERROR_RATE": "nan"},
        {"APP_DELAY_SECONDS": "61"},
        {"APP_DELAY_SECONDS": "inf"},
    ],
)
def test_bad_misbehaviour_settings_fail_at_start(env: dict[str, str]) -> None:
    with pytest.raises(demo.ConfigError):
        demo.create_app(env)


class FakeStore:
    """The /items store in memory; ``down`` makes every call fail as a lost database would."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise demo.DatabaseError("connection refused")

    def add(self, text: str) -> int:
        self._check()
        self.rows.append({"id": len(self.rows) + 1, "text": text})
        return len(self.rows)

    def recent(self, limit: int) -> list[dict[str, object]]:
        self._check()
        return list(reversed(self.rows))[:limit]

    def get(self, row_id: int) -> dict[str, object] | None:
        self._check()
        return next((r for r in self.rows if r["id"] == row_id), None)


def test_items_are_404_without_a_database() -> None:
    client = demo.create_app({}).test_client()
    assert client.get("/items").status_code == 404
    assert client.post("/items", json={"text": "x"}).status_code == 404


def test_items_write_and_read_through_the_store() -> None:
    store = FakeStore()
    client = demo.create_app({"APP_VERSION": "v2"}, store=store).test_client()
    created = client.post("/items", json={"text": "hello"})
    assert created.status_code == 201
    assert created.get_json() == {"version": "v2", "id": 1}
    listed = client.get("/items?limit=5")
    assert listed.get_json() == {"version": "v2", "items": [{"id": 1, "text": "hello"}]}
    assert client.get("/items/1").get_json()["item"] == {"id": 1, "text": "hello"}
    assert client.get("/items/2").status_code == 404
    text = client.get("/metrics").get_data(as_text=True)
    assert 'app_requests_total{code="201",path="/items"} 1.0' in text
    assert 'app_requests_total{code="404",path="/items/<int:row_id>"} 1.0' in text


@pytest.mark.parametrize("payload", [{}, {"text": ""}, {"text": 3}, {"text": "x" * 201}, [1]])
def test_a_bad_item_is_400(payload: object) -> None:
    client = demo.create_app({}, store=FakeStore()).test_client()
    assert client.post("/items", json=payload).status_code == 400


def test_a_database_failure_is_503_and_health_stays_up() -> None:
    store = FakeStore()
    store.down = True
    client = demo.create_app({}, store=store).test_client()
    assert client.post("/items", json={"text": "x"}).status_code == 503
    answer = client.get("/items")
    assert answer.status_code == 503
    assert answer.get_json() == {"version": "v1", "error": "connection refused"}
    assert client.get("/healthz").status_code == 200


class FakeConnection:
    def __init__(self) -> None:
        self.closed = 0
        self.autocommit = False

    def close(self) -> None:
        self.closed = 1


def test_the_pool_reuses_connections_and_drops_one_that_failed() -> None:
    made: list[FakeConnection] = []

    def connect() -> FakeConnection:
        made.append(FakeConnection())
        return made[-1]

    pool = demo.Pool(connect, size=2, wait_s=0.05)
    with pool.connection() as first:
        pass
    with pool.connection() as again:
        assert again is first and first.autocommit
    with pytest.raises(RuntimeError), pool.connection():
        raise RuntimeError("query failed")
    assert first.closed
    with pool.connection() as fresh:
        assert fresh is not first
    assert len(made) == 2


def test_the_pool_bounds_the_connections_in_use() -> None:
    pool = demo.Pool(FakeConnection, size=1, wait_s=0.05)
    with pool.connection(), pytest.raises(demo.DatabaseError, match="busy"), pool.connection():
        pass
    with pool.connection():  # the slot came back
        pass


def test_migrations_are_idempotent_statements() -> None:
    assert set(demo.MIGRATIONS) == {"init", "expand", "contract"}
    assert "IF NOT EXISTS" in demo.MIGRATIONS["init"][0]
    assert demo.MIGRATIONS["expand"] == (
        "ALTER TABLE items ADD COLUMN IF NOT EXISTS written_by text",
    )
    update, required = demo.MIGRATIONS["contract"]
    assert "WHERE written_by IS NULL" in update and required.endswith("SET NOT NULL")


def test_migrate_needs_a_database_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("APP_DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        demo.main(["--migrate", "expand"])
    assert exited.value.code == 2
    assert "APP_DATABASE_URL" in capsys.readouterr().err
