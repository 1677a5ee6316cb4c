"""manifests/monitoring/: the alert rules run by promtool against their unit tests, the
PrometheusRule kept equal to them, and every query of the rules and the Grafana
dashboard parsed by promtool and naming only series the operator exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Metric

from bluegreen.adapters.metrics import Metrics

MONITORING = Path(__file__).resolve().parents[3] / "manifests" / "monitoring"
RULES = MONITORING / "rules.yaml"
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "1h",
    "$namespace": ".*",
    "$release": ".*",
}
METRIC = re.compile(r"\b((?:bluegreen|process)_[a-z_]+)\b")
"""The series a query names: the operator's own and its process's (label names such as
``python_version`` are not series)."""


def promtool(*args: str, cwd: Path = MONITORING) -> str:
    binary = shutil.which("promtool")
    # Not a skip: CI installs Debian's prometheus package (hack/install-system-deps.sh).
    assert binary, "promtool not found: install Debian's prometheus package"
    done = subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def load(name: str) -> Any:
    return yaml.safe_load((MONITORING / name).read_text())


def exported() -> set[str]:
    """Every series name the operator's registry can expose, plus Prometheus' own ``up``."""
    names = {"up"}
    families: list[Metric] = list(Metrics().registry.collect())
    for family in families:
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        else:
            names.add(family.name)
    return names


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return data


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and annotation, Grafana's variables filled in."""
    found = []
    board = dashboard()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for note in board["annotations"]["list"]:
        found.append((f"annotation {note['name']!r}", note["expr"]))
    filled = []
    for where, raw in found:
        expr = raw
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{where}: unknown variable in {expr}"
        filled.append((where, expr))
    return filled


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    assert "SUCCESS" in promtool("test", "rules", "rules_test.yaml")


def test_the_prometheusrule_holds_exactly_the_rules() -> None:
    assert load("prometheusrule.yaml")["spec"] == load("rules.yaml")


def test_the_prometheusrule_spec_passes_promtool(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(load("prometheusrule.yaml")["spec"]))
    assert "SUCCESS" in promtool("check", "rules", str(spec))


def test_every_alert_has_a_severity_a_summary_and_a_test() -> None:
    tests = (MONITORING / "rules_test.yaml").read_text()
    for group in load("rules.yaml")["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
            assert f"alertname: {rule['alert']}" in tests, f"{rule['alert']} has no promtool test"


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    """Each alert has a promtool case where it fires and one where it stays quiet."""
    cases: dict[str, set[bool]] = {}
    for test in load("rules_test.yaml")["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    alerts = [rule["alert"] for group in load("rules.yaml")["groups"] for rule in group["rules"]]
    for alert in alerts:
        assert cases.get(alert) == {True, False}, (
            f"{alert}: firing and quiet cases {cases.get(alert)}"
        )


def test_rules_and_dashboard_name_only_series_the_operator_exports() -> None:
    known = exported()
    exprs = [rule["expr"] for g in load("rules.yaml")["groups"] for rule in g["rules"]]
    exprs += [expr for _, expr in dashboard_queries()]
    exprs += [v["query"]["query"] for v in dashboard()["templating"]["list"] if "query" in v
              and isinstance(v["query"], dict)]  # fmt: skip
    named = {name for expr in exprs for name in METRIC.findall(expr)}
    assert named, "no query names a bluegreen_ series"
    assert named <= known, f"unknown series: {sorted(named - known)}"


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    assert "SUCCESS" in promtool("check", "rules", str(path))


def test_dashboard_panels_have_unique_ids_and_a_datasource() -> None:
    panels = dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]


def test_dashboard_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                taken = cells.setdefault((x, y), panel["title"])
                assert taken == panel["title"], f"{panel['title']!r} overlaps {taken!r}"


@pytest.mark.parametrize("name", ["servicemonitor.yaml", "prometheusrule.yaml"])
def test_the_kustomization_lists_what_is_here(name: str) -> None:
    kustomization = load("kustomization.yaml")
    assert name in kustomization["resources"]
    files = kustomization["configMapGenerator"][0]["files"]
    assert all((MONITORING / f).is_file() for f in files)
