"""Counting where a Service really sends traffic, from EndpointSlices and pods."""

from __future__ import annotations

from typing import Any

from bluegreen.reconciler.observe import count_ready_endpoints, service_names


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
