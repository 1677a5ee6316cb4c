"""Requests named as the API server's own metrics name them (verb, resource)."""

from __future__ import annotations

import pytest

from bluegreen.adapters.api_paths import resource_of, verb_of


@pytest.mark.parametrize(
    ("method", "path", "verb", "resource"),
    [
        ("GET", "/api/v1/namespaces/shop/pods", "list", "pods"),
        ("GET", "/api/v1/namespaces/shop/pods?labelSelector=a%3Db", "list", "pods"),
        ("GET", "/api/v1/namespaces/shop/services/shop", "get", "services"),
        ("PATCH", "/api/v1/namespaces/shop/services/shop", "patch", "services"),
        ("GET", "/api/v1/namespaces/shop", "get", "namespaces"),
        ("GET", "/api/v1/namespaces", "list", "namespaces"),
        ("POST", "/api/v1/namespaces/shop/events", "create", "events"),
        ("DELETE", "/apis/apps/v1/namespaces/shop/deployments/shop-1", "delete", "deployments"),
        (
            "PATCH",
            "/apis/bluegreen.dev/v1alpha1/namespaces/shop/bluegreenreleases/shop/status",
            "patch",
            "bluegreenreleases/status",
        ),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/ops/leases/op", "update", "leases"),
        ("GET", "/apis/apps/v1", "list", "discovery"),
        ("GET", "/healthz", "list", "other"),
    ],
)
def test_verb_and_resource(method: str, path: str, verb: str, resource: str) -> None:
    assert (verb_of(method, path), resource_of(path)) == (verb, resource)
