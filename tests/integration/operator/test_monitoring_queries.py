"""manifests/monitoring/ against the real thing: a Prometheus (Debian's binary, started
here) scrapes the real operator while it runs real releases, loads rules.yaml, and
answers every query of the Grafana dashboard."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import (
    App,
    Kubectl,
    Operator,
    Release,
    free_port,
    release,
    wait_for,
)
from tests.integration.job_checks import job_check

REPO = Path(__file__).resolve().parents[3]
MONITORING = REPO / "manifests" / "monitoring"
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "1h",
    "$namespace": ".*",
    "$release": ".*",
}
NAME = "shop"


class Prometheus:
    def __init__(self, tmp: Path, target: str) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus not found: install Debian's prometheus package"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(MONITORING / "rules.yaml")],
            "scrape_configs": [
                {"job_name": "bluegreen-operator", "static_configs": [{"targets": [target]}]}
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (tmp / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=self.log,
        )

    def get(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            return json.loads(response.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def prometheus(operator: Operator, tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path, f"127.0.0.1:{operator.metrics_port}")
    try:
        wait_for("Prometheus ready", server.ready, timeout=60)
        # Targets reach the scrape loop a few seconds after start: scrape before the
        # release, so its counters are seen from their first value.
        wait_for(
            "the first scrape of the operator",
            lambda: server.query('up{job="bluegreen-operator"} == 1'),
            timeout=60,
        )
        yield server
    finally:
        server.stop()


def dashboard_queries() -> dict[str, str]:
    board = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    found = {}
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found[f"{panel['title']} {target['refId']}"] = expr
    return found


def test_dashboard_and_alerts_on_a_real_operator(
    k: Kubectl,
    namespace: str,
    operator: Operator,
    apps: dict[str, App],
    prometheus: Prometheus,
) -> None:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", replicas=1, hold=1))
    rel.wait_condition("Ready", timeout=90)
    rel.apply(release(NAME, "v2", apps["v2"].url, "never in the body", replicas=1, hold=1))
    rel.wait_condition("Stalled", timeout=90)

    mine = f'namespace="{namespace}", release="{NAME}"'
    wait_for(
        "Prometheus to scrape the failure",
        lambda: prometheus.query(f'bluegreen_release_phase{{{mine}, phase="Failed"}} == 1'),
        timeout=60,
    )
    # The failed check's series is born with the failure: rate() answers from its
    # second sample on.
    wait_for(
        "two samples of the failed check",
        lambda: prometheus.query(f'rate(bluegreen_checks_total{{{mine}, result="failed"}}[1m])'),
        timeout=30,
    )
    # Every panel's query runs; the ones about releases see this one.
    answers = {title: prometheus.query(expr) for title, expr in dashboard_queries().items()}
    assert answers["Failed A"][0]["value"][1] == "1"
    phases = [r["metric"] for r in answers["Phase of each release A"]]
    assert {"namespace": namespace, "release": NAME, "phase": "Failed"} in phases
    outcomes = {r["metric"].get("outcome") for r in answers["Finished releases by outcome A"]}
    assert "Promoted" in outcomes
    assert answers["Replicas: up and leading A"][0]["value"][1] == "1"
    assert answers["Checks by stage and result A"], "no check results"
    kinds = label_values(answers["Checks by kind and result A"], "kind", "result")
    assert {("http", "passed"), ("http", "failed")} <= kinds, kinds
    for title in ("Reconciles by result A", "Reconcile duration by result A"):
        assert ("succeeded",) in label_values(answers[title], "result"), title
    runs = label_values(answers["Terraform runs by operation and result A"], "operation", "result")
    assert ("apply", "succeeded") in runs, runs
    timed = label_values(answers["Terraform run duration by operation A"], "operation")
    assert ("apply",) in timed, timed
    (replica,) = answers["Version of each replica A"]
    assert replica["metric"]["version"] and replica["metric"]["kopf_version"], replica
    assert float(answers["Resident memory A"][0]["value"][1]) > 0
    assert answers["CPU A"], "no CPU series"

    # The rules loaded into a real Prometheus, and the failure alert is on its way
    # (pending for its minute, then firing) for this release.
    def alert_state() -> str:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        for group in groups:
            for rule in group["rules"]:
                if rule["name"] != "BlueGreenReleaseFailed":
                    continue
                for alert in rule.get("alerts", []):
                    if alert["labels"].get("namespace") == namespace:
                        return str(alert["state"])
        return ""

    assert wait_for("BlueGreenReleaseFailed for this release", alert_state, timeout=30) in (
        "pending",
        "firing",
    )
    health = {
        rule["name"]: rule["health"]
        for group in prometheus.get("/api/v1/rules")["data"]["groups"]
        for rule in group["rules"]
    }
    assert set(health.values()) == {"ok"}, health


def test_the_operators_own_series_after_a_release(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    """Process, build, reconcile, Terraform and check series carry real values: a
    release whose smoke checks are an HTTP check and a Job, then one that fails."""
    rel = Release(k, namespace, NAME)
    home = {"name": "home", "http": {"url": apps["v1"].url, "path": "/", "expectBody": "V1"}}
    v1_checks = [home, job_check("e2e")]
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", replicas=1, hold=1, smoke=v1_checks))
    rel.wait_condition("Ready", timeout=90)
    rel.apply(release(NAME, "v2", apps["v2"].url, "never in the body", replicas=1, hold=1))
    rel.wait_condition("Stalled", timeout=90)

    text = operator.metrics()
    assert "_created" not in text
    scraped = Scrape(text)
    mine = {"namespace": namespace, "release": NAME}
    assert scraped.total("process_resident_memory_bytes") > 0
    assert scraped.total("process_cpu_seconds_total") > 0
    assert scraped.total("python_gc_collections_total") > 0
    (build,) = scraped.labels_of("bluegreen_build_info")
    assert build["version"] and build["python_version"] and build["kopf_version"], build
    assert scraped.total("bluegreen_build_info") == 1
    assert scraped.total("bluegreen_reconciles_total", **mine, result="succeeded") > 0
    reconciles = scraped.total("bluegreen_reconciles_total", **mine)
    timed = scraped.total("bluegreen_reconcile_duration_seconds_count", namespace=namespace)
    # One wake-up may be between its count and its timing while the scrape reads them.
    assert abs(timed - reconciles) <= 1, (timed, reconciles)
    assert scraped.total("bluegreen_reconcile_duration_seconds_sum", namespace=namespace) > 0
    # --infrastructure kubernetes: the same operation, as plain API calls.
    applies = scraped.total("bluegreen_terraform_runs_total", **mine, result="succeeded")
    assert applies >= 1
    assert (
        scraped.total(
            "bluegreen_terraform_run_duration_seconds_count",
            namespace=namespace,
            result="succeeded",
        )
        == applies
    )
    smoke = {**mine, "stage": "smoke"}
    assert scraped.total("bluegreen_checks_total", **smoke, kind="http", result="passed") == 1
    assert scraped.total("bluegreen_checks_total", **smoke, kind="job", result="passed") == 1
    assert scraped.total("bluegreen_checks_total", **smoke, kind="http", result="failed") == 1


def label_values(answer: list[dict[str, Any]], *names: str) -> set[tuple[str, ...]]:
    """The values of ``names`` in each series of a query's answer."""
    return {tuple(str(r["metric"][name]) for name in names) for r in answer}


class Scrape:
    """The samples of one scrape of the operator's /metrics."""

    def __init__(self, text: str) -> None:
        self.samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def labels_of(self, name: str) -> list[dict[str, str]]:
        return [dict(s.labels) for s in self.samples if s.name == name]

    def total(self, name: str, **labels: str) -> float:
        """The sum over ``name``'s series that carry ``labels``; fails when there is none."""
        found = [
            s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()
        ]
        assert found, f"no series {name} with {labels}"
        return sum(found)
