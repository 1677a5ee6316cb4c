"""Every CamelCase word the operator writes (phases, conditions, reasons, outcomes) is
declared once, in ``bluegreen.api``, and every consumer agrees with it.

Modules may still spell a reason as a literal (``core/decide.py`` does, until it
moves to the enums); this test keeps such literals inside the declared
vocabulary, so a typo or a new undeclared reason fails here, not on a dashboard.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen.api.argocd import BEGIN, END, lua_constants
from bluegreen.api.conditions import ConditionStatus, ConditionType, Reason
from bluegreen.api.enums import (
    CheckPhase,
    DeletionPolicy,
    EventType,
    Outcome,
    Phase,
    ServiceType,
)
from bluegreen.api.v1alpha1 import (
    KIND,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    RELEASE_LABEL,
    RESERVED_LABEL_PREFIX,
    ROLE_LABEL,
)

OPERATOR = Path(__file__).resolve().parents[3] / "operator" / "bluegreen"
HEALTH_SCRIPT = OPERATOR.parents[1] / "manifests" / "argocd" / "health.lua"
CAMEL_WORD = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$")

DECLARED = {
    *Phase,
    *ConditionType,
    *ConditionStatus,
    *Reason,
    *CheckPhase,
    *Outcome,
    *ServiceType,
    *DeletionPolicy,
    *EventType,
    KIND,
}
KUBERNETES_WORDS = {
    "Accept",
    "Authorization",
    "Background",
    "DeleteOptions",
    "Deployment",
    "Event",
    "ExecCredential",
    "Job",
    "Lease",
    "Namespace",
    "Never",
    "None",
    "Pod",
    "ReplicaSet",
    "Secret",
    "Service",
}
"""Kubernetes' own vocabulary (kinds, Job condition types, restart and propagation policies,
HTTP headers, the exec credential plugins' kind)."""
OPERATOR_WORDS = {
    # Prefixes of the infrastructure Events' reasons (TerraformApplied), set by configuration.
    "Terraform",
    "Infrastructure",
    # A key of the lock info Terraform's kubernetes backend writes on its Lease.
    "Created",
    # core/decide.py's result of a refused human action, recorded in status.lastAction.
    "Rejected",
    "Rej",
}


def camel_literals(tree: ast.AST) -> Iterator[str]:
    exported: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            exported |= {id(c) for c in ast.walk(node.value)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and CAMEL_WORD.match(node.value)
            and id(node) not in exported
        ):
            yield node.value


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for p in OPERATOR.rglob("*.py")
        if p.relative_to(OPERATOR).parts[0] not in ("api", "plugin")
    ),
    ids=lambda p: str(p.relative_to(OPERATOR)),
)
def test_operator_words_are_declared(path: Path) -> None:
    """The plugin is left out: its CamelCase words are table headers, not API values."""
    words = set(camel_literals(ast.parse(path.read_text(encoding="utf-8"))))
    assert words - DECLARED - KUBERNETES_WORDS - OPERATOR_WORDS == set()


def test_reasons_are_not_phases_or_condition_types() -> None:
    """A reason equal to a phase or a condition type is spelled through that enum instead."""
    assert not set(Reason) & (set(Phase) | set(ConditionType))


def test_the_health_script_takes_its_names_from_the_enums() -> None:
    script = HEALTH_SCRIPT.read_text(encoding="utf-8")
    assert lua_constants() in script, "stale: run `make manifests`"
    outside = script[: script.index(BEGIN)] + script[script.index(END) :]
    quoted = set(re.findall(r'"([A-Za-z]+)"', outside))
    argo_health = {"Progressing", "Degraded", "Suspended", "Healthy"}
    assert quoted & DECLARED - argo_health == set(), "spell API names through the block"


def test_the_terraform_module_stamps_the_api_labels() -> None:
    """HCL cannot import Python: the module's label keys are pinned to the API's here."""
    module = (OPERATOR.parents[1] / "terraform" / "main.tf").read_text(encoding="utf-8")
    assert re.search(rf'"{re.escape(MANAGED_BY_LABEL)}"\s*=\s*"{MANAGED_BY_VALUE}"', module)
    ours = set(re.findall(rf'"({re.escape(RESERVED_LABEL_PREFIX)}[^"]*)"', module))
    assert ours == {RELEASE_LABEL, ROLE_LABEL}
