"""The CRD is generated from ``bluegreen.api``: what is committed is what the models say.

The API server enforces the committed YAML; the operator parses into the
models. Comparing them loaded (not as text) checks meaning: schema, CEL rules
and messages, defaults, printer columns and subresources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.api.crd import build_crd
from bluegreen.api.manifests import CRD_FILES, generated, render_crd
from bluegreen.api.schema import doc, object_schema

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("path", CRD_FILES)
def test_the_committed_crd_is_the_generated_one(path: str) -> None:
    committed = yaml.safe_load((REPO / path).read_text(encoding="utf-8"))
    assert committed == build_crd()


def test_the_rendered_yaml_reads_back_as_the_crd() -> None:
    assert yaml.safe_load(render_crd()) == build_crd()


def test_the_crd_holds_only_plain_yaml_types() -> None:
    """Enum members are str subclasses; safe_dump and the API server want plain values."""

    def kinds(value: Any) -> set[type]:
        if isinstance(value, dict):
            return {dict} | {t for k, v in value.items() for t in kinds(k) | kinds(v)}
        if isinstance(value, list):
            return {list} | {t for v in value for t in kinds(v)}
        return {type(value)}

    assert kinds(build_crd()) <= {dict, list, str, int, float, bool}


def walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    nodes = [(path, schema)]
    for key, child in (schema.get("properties") or {}).items():
        nodes += walk(child, f"{path}.{key}" if path else key)
    if isinstance(schema.get("items"), dict):
        nodes += walk(schema["items"], f"{path}[]")
    return nodes


def test_every_spec_and_status_field_is_described() -> None:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    undocumented = [
        path
        for path, node in walk(schema)
        if path.split(".")[0] in ("spec", "status")
        and not path.endswith("[]")
        and not path.startswith("spec.template.spec.containers")
        and not node.get("description")
    ]
    assert not undocumented


def test_every_cel_rule_has_a_message() -> None:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rules = [r for _, node in walk(schema) for r in node.get("x-kubernetes-validations", [])]
    assert len(rules) >= 10
    assert all(r.get("message") for r in rules)


def test_every_generated_file_is_current() -> None:
    """What ``make lint`` checks, for those who only run the unit tests."""
    stale = [
        str(path.relative_to(REPO))
        for path, text in generated(REPO).items()
        if path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run `make manifests`: {stale}"


def test_a_field_without_doc_is_refused() -> None:
    """Every CRD field is described: a model field without ``doc()`` fails generation."""

    @dataclass(frozen=True)
    class Undocumented:
        name: str = field(metadata=doc("Described."))
        count: int = 3

    with pytest.raises(TypeError, match="count"):
        object_schema(Undocumented, as_input=True)


def test_inputs_get_defaults_and_required_fields_outputs_neither() -> None:
    @dataclass(frozen=True)
    class Model:
        name: str = field(metadata=doc("A name."))
        port: int = field(default=80, metadata=doc("A port.", minimum=1))

    spec = object_schema(Model, as_input=True)
    assert spec["required"] == ["name"]
    assert spec["properties"]["port"] == {
        "description": "A port.",
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "default": 80,
    }
    status = object_schema(Model, as_input=False)
    assert "required" not in status
    assert "default" not in status["properties"]["port"]
