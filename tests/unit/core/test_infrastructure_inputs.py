"""The module's variables: derived values always win over spec.infrastructure.terraform."""

from __future__ import annotations

import dataclasses

import pytest

from bluegreen.core.errors import SpecError
from bluegreen.core.infrastructure import InfrastructureInputs
from bluegreen.core.spec import RESERVED_VARIABLES, parse_spec

DERIVED = {
    "release_name",
    "namespace",
    "create_namespace",
    "service_name",
    "service_type",
    "service_port",
    "target_port",
    "preview_service_name",
    "labels",
}


def inputs(**extra: object) -> InfrastructureInputs:
    return InfrastructureInputs(
        release="shop",
        release_namespace="shop",
        namespace="shop",
        create_namespace=False,
        service_name="shop",
        service_type="ClusterIP",
        service_port=80,
        target_port="http",
        preview_service_name="shop-preview",
        labels={"bluegreen.dev/release": "shop"},
        extra_variables=extra,
    )


def test_every_derived_variable_wins_over_the_spec() -> None:
    hostile = {name: "overridden" for name in DERIVED}
    variables = inputs(**hostile, replicas_hint=3).terraform_variables()
    assert variables == {
        "release_name": "shop",
        "namespace": "shop",
        "create_namespace": False,
        "service_name": "shop",
        "service_type": "ClusterIP",
        "service_port": 80,
        "target_port": "http",
        "preview_service_name": "shop-preview",
        "labels": {"bluegreen.dev/release": "shop"},
        "replicas_hint": 3,  # not derived: passes through (the adapter refuses unknowns)
    }


def test_target_port_is_passed_as_a_string_number_or_name() -> None:
    assert inputs().terraform_variables()["target_port"] == "http"
    numbered = dataclasses.replace(inputs(), target_port=5000)
    assert numbered.terraform_variables()["target_port"] == "5000"


def test_the_spec_may_not_set_derived_variables() -> None:
    assert DERIVED | {"kubeconfig_path"} <= RESERVED_VARIABLES


@pytest.mark.parametrize("name", sorted(DERIVED | {"kubeconfig_path"}))
def test_a_spec_setting_a_derived_variable_is_refused(name: str) -> None:
    spec = {
        "replicas": 1,
        "template": {"spec": {"containers": [{"name": "app", "image": "app:v1"}]}},
        "service": {"name": "shop", "port": 80, "targetPort": "http"},
        "previewService": {"name": "shop-preview"},
        "infrastructure": {"terraform": {"variables": {name: "x"}}},
    }
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    assert refused.value.reason == "InvalidInfrastructure"
    assert name in str(refused.value)
