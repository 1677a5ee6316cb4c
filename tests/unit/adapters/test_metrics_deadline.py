"""The deadline gauge: at most one series per release, for the phase it is in."""

from __future__ import annotations

from prometheus_client import generate_latest

from bluegreen.adapters.metrics import Metrics


def series(metrics: Metrics) -> list[str]:
    text = generate_latest(metrics.registry).decode()
    return [
        line
        for line in text.splitlines()
        if line.startswith("bluegreen_release_deadline_timestamp_seconds{")
    ]


def test_one_series_for_the_current_phase_and_none_without_a_deadline() -> None:
    metrics = Metrics()
    metrics.set_deadline("prod", "shop", "Deploying", 1_800_000_000.0)
    assert series(metrics) == [
        'bluegreen_release_deadline_timestamp_seconds{namespace="prod",phase="Deploying",'
        'release="shop"} 1.8e+09'
    ]
    metrics.set_deadline("prod", "shop", "Holding", 1_800_000_600.0)
    assert len(series(metrics)) == 1 and 'phase="Holding"' in series(metrics)[0]
    metrics.set_deadline("prod", "shop", "Complete", None)
    assert series(metrics) == []


def test_forget_removes_the_deadline() -> None:
    metrics = Metrics()
    metrics.set_deadline("prod", "shop", "Holding", 1.0)
    metrics.set_deadline("prod", "cart", "Holding", 2.0)
    metrics.forget("prod", "shop")
    assert [('release="cart"' in line) for line in series(metrics)] == [True]
