"""Release series: the deadline gauge (one series per release at most) and the counters
a release starts with."""

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


def samples(metrics: Metrics, prefix: str) -> list[str]:
    text = generate_latest(metrics.registry).decode()
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_a_release_seen_once_has_its_counters_at_zero() -> None:
    # A counter born at 1 hides its first increment from increase(): start them at 0.
    metrics = Metrics()
    metrics.set_phase("prod", "shop", "Deploying")
    outcomes = samples(metrics, "bluegreen_releases_total{")
    assert len(outcomes) == 5 and all(line.endswith(" 0.0") for line in outcomes)
    assert samples(metrics, "bluegreen_traffic_switches_total{") == [
        'bluegreen_traffic_switches_total{namespace="prod",release="shop"} 0.0'
    ]
    metrics.forget("prod", "shop")
    assert samples(metrics, "bluegreen_releases_total{") == []
    assert samples(metrics, "bluegreen_traffic_switches_total{") == []
