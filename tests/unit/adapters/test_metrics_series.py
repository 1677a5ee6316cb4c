"""The operator's series, scraped from the registry's text: the deadline gauge (one
series per release at most), the counters a release starts with, the process and build
series, reconciles and Terraform runs by result, one label vocabulary, no ``_created``."""

from __future__ import annotations

import asyncio
import importlib.metadata
import platform
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_open_metrics
from prometheus_client.parser import text_string_to_metric_families

from bluegreen.adapters.metrics import Metrics
from bluegreen.api.enums import (
    CheckKind,
    CheckResult,
    CheckStage,
    InfrastructureOperation,
    Phase,
    RunResult,
)


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


def test_a_phase_shown_again_after_forget_and_after_other_phases() -> None:
    metrics = Metrics()

    def shown() -> list[str]:
        lines = samples(metrics, 'bluegreen_release_phase{namespace="prod"')
        return [line for line in lines if line.endswith(" 1.0")]

    metrics.set_phase("prod", "shop", Phase.DEPLOYING)
    metrics.set_deadline("prod", "shop", Phase.DEPLOYING, 5.0)
    metrics.forget("prod", "shop")
    assert shown() == [] and series(metrics) == []
    metrics.set_phase("prod", "shop", Phase.DEPLOYING)
    metrics.set_deadline("prod", "shop", Phase.DEPLOYING, 5.0)
    assert len(shown()) == 1 and 'phase="Deploying"' in shown()[0], "a release seen again"
    assert len(series(metrics)) == 1
    metrics.set_phase("prod", "shop", Phase.HOLDING)
    metrics.set_phase("prod", "shop", Phase.DEPLOYING)
    metrics.set_deadline("prod", "shop", Phase.HOLDING, 6.0)
    metrics.set_deadline("prod", "shop", Phase.DEPLOYING, 5.0)
    assert len(shown()) == 1 and 'phase="Deploying"' in shown()[0]
    assert len(series(metrics)) == 1 and 'phase="Deploying"' in series(metrics)[0]


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


Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: Metrics) -> Scrape:
    """Every sample of the registry's text exposition: (name, labels) -> value."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: Scrape, name: str, **labels: str) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


def test_the_process_the_interpreter_and_the_build_are_exported() -> None:
    scraped = scrape(Metrics())
    names = {name for name, _ in scraped}
    assert (value(scraped, "process_resident_memory_bytes") or 0) > 0
    assert (value(scraped, "process_start_time_seconds") or 0) > 0
    assert {"process_cpu_seconds_total", "process_open_fds"} <= names
    assert "python_gc_collections_total" in names
    assert any(name == "python_info" for name, _ in scraped)
    build = {
        "version": importlib.metadata.version("bluegreen-operator"),
        "python_version": platform.python_version(),
        "kopf_version": importlib.metadata.version("kopf"),
    }
    assert value(scraped, "bluegreen_build_info", **build) == 1
    assert [name for name in names if name == "bluegreen_build_info"] == ["bluegreen_build_info"]


def exercised() -> Metrics:
    """A registry with a child of every family of the operator's own."""
    metrics = Metrics()
    metrics.set_phase("prod", "shop", Phase.HOLDING)
    metrics.count_check("prod", "shop", CheckStage.SMOKE, CheckKind.JOB, CheckResult.PASSED)
    with metrics.reconciling("prod", "shop"):
        pass
    with metrics.terraform_running("prod", "shop", InfrastructureOperation.APPLY):
        pass
    metrics.release_duration.labels("prod").observe(30)
    metrics.switch_latency.labels("prod").observe(0.1)
    metrics.switches.labels("prod", "shop").inc()
    metrics.rollbacks.labels("prod", "shop", "HoldCheckFailed").inc()
    metrics.reconcile_errors.labels("prod", "shop").inc()
    metrics.count_request("get", "deployments", 200)
    return metrics


def test_no_created_series_in_any_exposition() -> None:
    metrics = exercised()
    text = generate_latest(metrics.registry).decode()
    assert 'bluegreen_reconciles_total{namespace="prod",release="shop",result="succeeded"}' in text
    assert "_created" not in text
    open_metrics = generate_open_metrics(metrics.registry).decode()
    assert "bluegreen_reconciles_total{" in open_metrics
    assert "_created" not in open_metrics
    # /metrics?name[]=...: naming a *_created series does not bring it back.
    asked = metrics.registry.restricted_registry(
        ["bluegreen_reconciles_created", "bluegreen_reconciles_total"]
    )
    samples = [s.name for family in asked.collect() for s in family.samples]
    assert samples and all(name == "bluegreen_reconciles_total" for name in samples)


def test_a_reconcile_is_counted_and_timed_by_result() -> None:
    metrics = Metrics()
    with metrics.reconciling("prod", "shop"):
        pass
    with pytest.raises(RuntimeError), metrics.reconciling("prod", "shop"):
        raise RuntimeError("the API server went away")
    with pytest.raises(asyncio.CancelledError), metrics.reconciling("prod", "shop"):
        raise asyncio.CancelledError  # shutdown: neither failed nor succeeded
    scraped = scrape(metrics)
    for result in RunResult:
        mine = {"namespace": "prod", "release": "shop", "result": result}
        assert value(scraped, "bluegreen_reconciles_total", **mine) == 1
        timed = {"namespace": "prod", "result": result}
        assert value(scraped, "bluegreen_reconcile_duration_seconds_count", **timed) == 1
        assert value(scraped, "bluegreen_reconcile_duration_seconds_bucket", le="+Inf", **timed)


def test_terraform_runs_are_counted_and_timed_by_operation_and_result() -> None:
    metrics = Metrics()
    with metrics.terraform_running("prod", "shop", InfrastructureOperation.APPLY):
        pass
    with (
        pytest.raises(RuntimeError),
        metrics.terraform_running("prod", "shop", InfrastructureOperation.DESTROY),
    ):
        raise RuntimeError("state locked")
    scraped = scrape(metrics)
    runs = {
        (dict(labels)["operation"], dict(labels)["result"]): v
        for (name, labels), v in scraped.items()
        if name == "bluegreen_terraform_runs_total"
    }
    assert runs == {("apply", "succeeded"): 1, ("destroy", "failed"): 1}
    timed = {"namespace": "prod", "operation": "destroy", "result": "failed"}
    assert value(scraped, "bluegreen_terraform_run_duration_seconds_count", **timed) == 1


ALLOWED_LABELS = {
    "namespace",
    "release",
    "phase",
    "outcome",
    "reason",
    "stage",
    "kind",
    "result",
    "operation",
    "verb",
    "resource",
    "code",
    "version",
    "python_version",
    "kopf_version",
}
"""Every label name of the operator's own series; a new one is added here on purpose."""


def test_label_names_and_values_are_one_vocabulary() -> None:
    # One name per idea across series, and a result label that means one thing.
    results = set(CheckResult) | set(RunResult)
    seen: dict[str, set[str]] = {}
    for (name, labels), _ in scrape(exercised()).items():
        if not name.startswith("bluegreen_"):
            continue
        keys = {k for k, _ in labels if k != "le"}
        assert keys <= ALLOWED_LABELS, f"{name}: {keys - ALLOWED_LABELS}"
        if "release" in keys:
            assert "namespace" in keys, name
        for key, label in labels:
            seen.setdefault(key, set()).add(label)
    assert seen["result"] <= {str(r) for r in results}
    assert seen["result"] >= {"passed", "succeeded"}


def test_a_release_seen_once_has_its_reconcile_counters_at_zero() -> None:
    metrics = Metrics()
    metrics.set_phase("prod", "shop", Phase.PENDING)
    scraped = scrape(metrics)
    for result in RunResult:
        mine = {"namespace": "prod", "release": "shop", "result": result}
        assert value(scraped, "bluegreen_reconciles_total", **mine) == 0


def test_the_readme_table_names_every_series() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    table = readme.split("Prometheus metrics on `:9090/metrics`", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    exported = set()
    for family in Metrics().registry.collect():
        exported.add(f"{family.name}_total" if family.type == "counter" else family.name)
    assert exported == documented


def _every_release_series(metrics: Metrics, namespace: str, release: str) -> None:
    """Everything a release moves in its life, through the methods the operator calls."""
    metrics.set_phase(namespace, release, Phase.HOLDING)
    metrics.set_deadline(namespace, release, Phase.HOLDING, 1_800_000_000.0)
    metrics.count_check(namespace, release, CheckStage.HOLD, CheckKind.HTTP, CheckResult.FAILED)
    with metrics.reconciling(namespace, release):
        pass
    with metrics.terraform_running(namespace, release, InfrastructureOperation.APPLY):
        pass
    metrics.switches.labels(namespace, release).inc()
    metrics.switch_latency.labels(namespace).observe(0.1)
    metrics.rollbacks.labels(namespace, release, "HoldCheckFailed").inc()
    metrics.reconcile_errors.labels(namespace, release).inc()
    metrics.release_duration.labels(namespace).observe(30)


def _releases_shown(metrics: Metrics) -> dict[str, set[str]]:
    """Release label value -> the families that carry it."""
    shown: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            if "release" in sample.labels:
                shown.setdefault(sample.labels["release"], set()).add(family.name)
    return shown


def test_a_release_forgotten_leaves_no_series_of_its_own_in_any_family() -> None:
    # A series left behind shows a deleted release's phase on dashboards forever (and
    # keeps its alerts firing); each short-lived release would grow every scrape for
    # the life of the process.
    metrics = Metrics()
    _every_release_series(metrics, "prod", "shop")
    _every_release_series(metrics, "prod", "cart")
    _every_release_series(metrics, "stage", "shop")
    before = _releases_shown(metrics)
    assert len(before["shop"]) >= 8, before  # every per-release family was exercised
    metrics.forget("prod", "shop")
    text = generate_latest(metrics.registry).decode()
    assert not [
        line
        for line in text.splitlines()
        if 'namespace="prod",' in line and 'release="shop"' in line
    ]
    after = _releases_shown(metrics)
    assert after["cart"] == before["cart"], "another release keeps all of its series"
    assert after["shop"] == before["shop"], "the same name in another namespace is another release"
    # Series by namespace alone are not one release's: they stay.
    assert 'bluegreen_switch_latency_seconds_count{namespace="prod"}' in text
    # Seen again, it starts over from zero, every counter present.
    metrics.set_phase("prod", "shop", Phase.DEPLOYING)
    again = samples(metrics, 'bluegreen_traffic_switches_total{namespace="prod",release="shop"}')
    assert again == ['bluegreen_traffic_switches_total{namespace="prod",release="shop"} 0.0']
