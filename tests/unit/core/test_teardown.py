"""What the finalizer removes: derived from the spec, or from status when the spec is bad."""

from __future__ import annotations

from typing import Any

from bluegreen.core.actions import DeleteDeployment, DeleteJob, DeleteService
from bluegreen.core.context import ReleaseContext
from bluegreen.core.status import InfrastructureStatus, ReleaseStatus
from bluegreen.core.teardown import (
    NO_INPUTS,
    cleanup_report,
    destroy_inputs,
    infrastructure_removal,
    infrastructure_was_attempted,
    own_services,
    retains_infrastructure,
    service_removals,
    workload_removals,
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


def test_only_workloads_the_release_controls_jobs_first() -> None:
    mine = [{"uid": "uid-1", "controller": True}]
    objects = [
        obj(
            "mine",
            uid="d1",
            resourceVersion="71",
            ownerReferences=mine,
            labels={"bluegreen.dev/revision": "abc"},
        ),
        obj("not-controller", ownerReferences=[{"uid": "uid-1", "controller": False}]),
        obj("older-namesake", ownerReferences=[{"uid": "uid-0", "controller": True}]),
        obj("labels-only", labels={"bluegreen.dev/release": "shop"}),
    ]
    jobs = [obj("check", uid="j1", ownerReferences=mine), obj("their-check")]
    assert workload_removals(jobs, objects, "uid-1") == (
        DeleteJob(name="check", uid="j1"),
        DeleteDeployment(name="mine", revision="abc", uid="d1", resource_version="71"),
    )
    assert workload_removals(jobs, objects, "") == ()


def test_infrastructure_goes_per_deletion_policy() -> None:
    removal = infrastructure_removal(CTX, make_spec(), APPLIED)
    assert removal.destroy is not None and removal.sweep_services and not removal.problem
    assert removal.destroy.inputs.service_name == "shop"
    retained = make_spec()
    retained["infrastructure"]["deletionPolicy"] = "Retain"
    assert infrastructure_removal(CTX, retained, APPLIED).destroy is None
    assert not infrastructure_removal(CTX, retained, APPLIED).sweep_services
    never_applied = infrastructure_removal(CTX, make_spec(), ReleaseStatus())
    assert never_applied.destroy is None and never_applied.sweep_services
    lost = infrastructure_removal(
        CTX, bad_spec(), ReleaseStatus(infrastructure=InfrastructureStatus(failed_inputs_hash="h"))
    )
    assert (lost.destroy, lost.sweep_services, lost.problem) == (None, True, NO_INPUTS)


def test_services_go_by_uid_and_the_report_names_every_problem() -> None:
    ours = {"app.kubernetes.io/managed-by": "bluegreen-operator", "bluegreen.dev/release": "shop"}
    services = iter([obj("shop", uid="s1", labels=ours), obj("foreign", uid="s2")])
    assert service_removals(services, "shop") == (DeleteService(name="shop", uid="s1"),)
    assert cleanup_report([]) is None
    report = cleanup_report(["a failed", "b failed"])
    assert report is not None
    assert (report.type, report.reason, report.message) == (
        "Warning",
        "CleanupIncomplete",
        "a failed; b failed",
    )


def test_only_services_labelled_for_the_release() -> None:
    ours = {"app.kubernetes.io/managed-by": "bluegreen-operator", "bluegreen.dev/release": "shop"}
    services = [
        obj("shop", labels=ours),
        obj("other", labels={**ours, "bluegreen.dev/release": "other"}),
        obj("foreign", labels={"bluegreen.dev/release": "shop"}),
        obj("bare"),
    ]
    assert own_services(services, "shop") == ["shop"]
