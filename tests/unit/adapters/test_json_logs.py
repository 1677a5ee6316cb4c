"""Log lines in JSON: one object per line, whatever the message or the exception."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bluegreen.adapters.json_logs import JSON, TEXT, JsonFormatter, configure_logging


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    logger = logging.getLogger()
    saved = (list(logger.handlers), logger.level)
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord(
        "bluegreen.reconciler", logging.WARNING, __file__, 1, "a %s", ("b",), None
    )
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_line_is_one_json_object() -> None:
    line = JsonFormatter().format(record())
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "bluegreen.reconciler"
    assert entry["message"] == "a b"
    assert entry["time"].endswith("+00:00")
    assert "\n" not in line


def test_kopf_object_references_become_fields() -> None:
    ref = {"apiVersion": "bluegreen.dev/v1alpha1", "kind": "BlueGreenRelease", "name": "shop",
           "namespace": "prod", "uid": "u"}  # fmt: skip
    entry = json.loads(JsonFormatter().format(record(k8s_ref=ref)))
    assert (entry["namespace"], entry["kind"], entry["name"]) == (
        "prod",
        "BlueGreenRelease",
        "shop",
    )


def test_an_exception_stays_inside_its_line() -> None:
    try:
        raise ValueError("multi\nline")
    except ValueError:
        rec = record()
        rec.exc_info = sys.exc_info()
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    assert "ValueError: multi\nline" in json.loads(line)["exception"]


@pytest.mark.parametrize(("fmt", "is_json"), [(JSON, True), (TEXT, False)])
def test_configure_logging_formats_every_logger(
    root: logging.Logger, fmt: str, is_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt)
    logging.getLogger("kopf.objects").warning("hello %s", "world")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    if is_json:
        assert json.loads(err[0])["message"] == "hello world"
    else:
        assert err[0].endswith("WARNING kopf.objects: hello world")
    assert len(root.handlers) == 1
