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
