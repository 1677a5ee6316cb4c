"""Counting where a Service really sends traffic, from EndpointSlices and pods."""

from __future__ import annotations

from typing import Any

from bluegreen.adapters.shared_listing import selectors_of
from bluegreen.core.observed import DeploymentState
from bluegreen.reconciler.observe import (
    count_ready_endpoints,
    desired_revision,
    exposing_services,
    owned_pods,
    service_names,
    with_restarts,
)


def pod(name: str, revision: str | None) -> dict[str, Any]:
    labels = {"bluegreen.dev/release": "shop"}
    if revision:
        labels["bluegreen.dev/revision"] = revision
    return {"metadata": {"name": name, "labels": labels}}


def endpoint(pod_name: str, ready: bool | None = True) -> dict[str, Any]:
    conditions = {} if ready is None else {"ready": ready}
    return {
        "addresses": [f"198.18.0.{abs(hash(pod_name)) % 250}"],
        "conditions": conditions,
        "targetRef": {"kind": "Pod", "name": pod_name},
    }


def test_counts_ready_endpoints_per_revision() -> None:
    pods = [pod("a1", "aaa"), pod("a2", "aaa"), pod("b1", "bbb")]
    slices = [{"endpoints": [endpoint("a1"), endpoint("a2"), endpoint("b1", ready=False)]}]
    assert count_ready_endpoints(slices, pods) == ({"aaa": 2}, 0)


def test_missing_ready_condition_means_ready_and_duplicates_count_once() -> None:
    pods = [pod("a1", "aaa")]
    slices = [{"endpoints": [endpoint("a1", ready=None)]}, {"endpoints": [endpoint("a1")]}]
    assert count_ready_endpoints(slices, pods) == ({"aaa": 1}, 0)


def test_foreign_endpoints_are_counted_as_unknown() -> None:
    slices = [{"endpoints": [endpoint("stranger"), {"addresses": ["198.18.9.9"]}]}]
    assert count_ready_endpoints(slices, []) == ({}, 2)


def test_service_names_default_the_preview() -> None:
    assert service_names({"service": {"name": "shop"}}) == ("shop", "shop-preview")
    assert service_names({"service": {"name": "s"}, "previewService": {"name": "p"}}) == ("s", "p")
    assert service_names({}) == ("", "")


def _rs_pod(name: str, revision: str, owner: str | None) -> dict[str, Any]:
    labels = {"bluegreen.dev/release": "shop", "bluegreen.dev/revision": revision}
    refs = [{"kind": "ReplicaSet", "name": owner, "controller": True, "uid": "rs"}] if owner else []
    return {"metadata": {"name": name, "labels": labels, "ownerReferences": refs}}


def test_only_pods_of_our_replicasets_count_as_a_revisions_endpoints() -> None:
    deployments = {"aaa": DeploymentState(name="shop-aaa", revision="aaa", image="i", replicas=1)}
    pods = [
        _rs_pod("ours", "aaa", "shop-aaa-5d8f9"),
        _rs_pod("look-alike", "aaa", None),  # our labels, made by hand
        _rs_pod("other-rs", "aaa", "billing-77c"),  # our labels, someone else's ReplicaSet
    ]
    kept = owned_pods(pods, deployments)
    assert [p["metadata"]["name"] for p in kept] == ["ours"]
    slices = [{"endpoints": [endpoint("ours"), endpoint("look-alike"), endpoint("other-rs")]}]
    assert count_ready_endpoints(slices, kept) == ({"aaa": 1}, 2)


def test_services_whose_selector_matches_the_pods_are_reported() -> None:
    spec = {"template": {"metadata": {"labels": {"app": "shop", "tier": "web"}}, "spec": {}}}
    revision = desired_revision(spec)

    def svc(name: str, selector: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"name": name}, "spec": {"selector": selector}}

    services = [
        svc("shop", {"bluegreen.dev/release": "shop"}),  # the release's own: excluded
        svc("catch-all", {"app": "shop"}),
        svc("narrow", {"app": "shop", "tier": "db"}),
        svc("headless", {}),
    ]
    found = exposing_services(selectors_of(services), "shop", revision, spec, exclude={"shop"})
    assert found == ("catch-all",)


def test_restarts_are_summed_per_revision_over_its_own_pods_only() -> None:
    deployments = {
        "aaa": DeploymentState(name="shop-aaa", revision="aaa", image="i", replicas=2),
        "bbb": DeploymentState(name="shop-bbb", revision="bbb", image="i", replicas=1),
    }

    def restarted(name: str, revision: str, owner: str | None, *counts: int) -> dict[str, Any]:
        body = _rs_pod(name, revision, owner)
        body["status"] = {"containerStatuses": [{"restartCount": n} for n in counts]}
        return body

    pods = [
        restarted("a1", "aaa", "shop-aaa-5d4f", 2, 1),
        restarted("a2", "aaa", "shop-aaa-5d4f", 1),
        restarted("lookalike", "aaa", None, 40),  # our labels, not our ReplicaSet
        _rs_pod("b1", "bbb", "shop-bbb-77c9"),  # no status yet
    ]
    counted = with_restarts(deployments, owned_pods(pods, deployments))
    assert (counted["aaa"].restarts, counted["bbb"].restarts) == (4, 0)
