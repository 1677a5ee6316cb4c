"""What the finalizer removes: derived from the spec, or from status when the spec is bad."""

from __future__ import annotations

from typing import Any

from bluegreen.core.context import ReleaseContext
from bluegreen.core.status import InfrastructureStatus, ReleaseStatus
from bluegreen.core.teardown import (
    destroy_inputs,
    infrastructure_was_attempted,
    own_services,
    own_workloads,
    retains_infrastructure,
)

from .world import make_spec

CTX = ReleaseContext(name="shop", namespace="shop", uid="uid-1", generation=3)
APPLIED = ReleaseStatus(
    infrastructure=InfrastructureStatus(
        applied=True,
        inputs_hash="h",
        outputs={"stableService": "shop-live", "previewService": "shop-next"},
    )
)


def bad_spec() -> dict[str, Any]:
    spec = make_spec()
    spec["service"] = {"name": "Not A DNS Label"}
    return spec


def test_inputs_come_from_a_valid_spec() -> None:
    inputs = destroy_inputs(CTX, make_spec(), APPLIED)
    assert inputs is not None
    assert (inputs.service_name, inputs.preview_service_name) == ("shop", "shop-preview")


def test_inputs_come_from_status_when_the_spec_is_invalid() -> None:
    inputs = destroy_inputs(CTX, bad_spec(), APPLIED)
    assert inputs is not None
    assert (inputs.service_name, inputs.preview_service_name) == ("shop-live", "shop-next")
    assert (inputs.release, inputs.release_namespace) == ("shop", "shop")
    assert not inputs.create_namespace
    assert 1 <= inputs.target_port <= 65535, "the module validates it even on destroy"


def test_no_inputs_without_a_spec_or_a_record() -> None:
    assert destroy_inputs(CTX, bad_spec(), ReleaseStatus()) is None
    assert destroy_inputs(CTX, {"service": 3, "template": []}, ReleaseStatus()) is None


def test_a_failed_first_apply_still_counts_as_attempted() -> None:
    failed = ReleaseStatus(infrastructure=InfrastructureStatus(failed_inputs_hash="h"))
    assert infrastructure_was_attempted(failed)
    assert infrastructure_was_attempted(APPLIED)
    assert not infrastructure_was_attempted(ReleaseStatus())


def test_retain_is_read_from_any_spec() -> None:
    assert retains_infrastructure({"infrastructure": {"deletionPolicy": "Retain"}})
    assert not retains_infrastructure({"infrastructure": {"deletionPolicy": "Delete"}})
    assert not retains_infrastructure({"infrastructure": "junk"})
    assert not retains_infrastructure({})


def obj(name: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **meta}}


def test_only_workloads_the_release_controls() -> None:
    objects = [
        obj("mine", ownerReferences=[{"uid": "uid-1", "controller": True}]),
        obj("not-controller", ownerReferences=[{"uid": "uid-1", "controller": False}]),
        obj("older-namesake", ownerReferences=[{"uid": "uid-0", "controller": True}]),
        obj("labels-only", labels={"bluegreen.dev/release": "shop"}),
    ]
    assert own_workloads(objects, "uid-1") == ["mine"]
    assert own_workloads(objects, "") == []


def test_only_services_labelled_for_the_release() -> None:
    ours = {"app.kubernetes.io/managed-by": "bluegreen-operator", "bluegreen.dev/release": "shop"}
    services = [
        obj("shop", labels=ours),
        obj("other", labels={**ours, "bluegreen.dev/release": "other"}),
        obj("foreign", labels={"bluegreen.dev/release": "shop"}),
        obj("bare"),
    ]
    assert own_services(services, "shop") == ["shop"]
