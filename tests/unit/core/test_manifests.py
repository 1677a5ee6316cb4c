"""Golden tests: revision hashing and the manifests the operator creates."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bluegreen.core import names
from bluegreen.core.context import ReleaseContext
from bluegreen.core.manifests import build_check_job, build_deployment
from bluegreen.core.revision import canonical_json, compute_revision
from bluegreen.core.spec import parse_spec

from .world import job_check, make_spec, template

CTX = ReleaseContext(name="shop", namespace="shop", uid="uid-1", generation=3)
OWNER = {
    "apiVersion": "bluegreen.dev/v1alpha1",
    "kind": "BlueGreenRelease",
    "name": "shop",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}
GOLDEN_REVISION = "e8cf548a22"
CANONICAL = (
    '{"metadata":{"labels":{"app":"shop"}},"spec":{"containers":[{"image":"shop:v1",'
    '"name":"app","ports":[{"containerPort":5000}]}]}}'
)


def test_revision_is_a_golden_value() -> None:
    assert canonical_json(template("shop:v1")) == CANONICAL
    assert hashlib.sha256(CANONICAL.encode()).hexdigest()[:10] == GOLDEN_REVISION
    assert compute_revision(template("shop:v1")) == GOLDEN_REVISION


def test_revision_ignores_key_order() -> None:
    reordered = {
        "spec": {
            "containers": [{"ports": [{"containerPort": 5000}], "image": "shop:v1", "name": "app"}]
        },
        "metadata": {"labels": {"app": "shop"}},
    }
    assert compute_revision(reordered) == GOLDEN_REVISION


def test_revision_changes_with_the_template() -> None:
    assert compute_revision(template("shop:v2")) != GOLDEN_REVISION
    assert compute_revision(template("shop:v1", tier="web")) != GOLDEN_REVISION
    # List order is meaningful (containers, env): it changes the revision.
    two = template("shop:v1")
    two["spec"]["containers"].append({"name": "side", "image": "side:1"})
    swapped = copy.deepcopy(two)
    swapped["spec"]["containers"].reverse()
    assert compute_revision(two) != compute_revision(swapped)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_revision_is_stable_and_dns_safe(value: dict[str, Any]) -> None:
    shuffled = dict(reversed(list(value.items())))
    revision = compute_revision(value)
    assert revision == compute_revision(shuffled) == compute_revision(copy.deepcopy(value))
    assert len(revision) == 10 and all(c in "0123456789abcdef" for c in revision)


def test_build_deployment_golden() -> None:
    pod = template("shop:v1")
    pod["metadata"]["labels"]["bluegreen.dev/revision"] = "forged"
    assert build_deployment(CTX, pod, GOLDEN_REVISION, 3) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "shop-e8cf548a22",
            "namespace": "shop",
            "labels": {
                "app.kubernetes.io/managed-by": "bluegreen-operator",
                "bluegreen.dev/release": "shop",
                "bluegreen.dev/revision": "e8cf548a22",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 1,
            "selector": {
                "matchLabels": {
                    "bluegreen.dev/release": "shop",
                    "bluegreen.dev/revision": "e8cf548a22",
                }
            },
            "template": {
                "metadata": {
                    "labels": {
                        "app": "shop",
                        "app.kubernetes.io/managed-by": "bluegreen-operator",
                        "bluegreen.dev/release": "shop",
                        "bluegreen.dev/revision": "e8cf548a22",
                    }
                },
                "spec": {
                    "containers": [
                        {"name": "app", "image": "shop:v1", "ports": [{"containerPort": 5000}]}
                    ]
                },
            },
        },
    }
    # The user's template is not mutated.
    assert pod["metadata"]["labels"]["bluegreen.dev/revision"] == "forged"


def test_build_deployment_without_pod_metadata() -> None:
    pod = {"spec": {"containers": [{"name": "app", "image": "x"}]}}
    manifest = build_deployment(CTX, pod, "abc", 1)
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    assert labels == names.revision_labels("shop", "abc")
    assert "metadata" not in pod


def test_build_check_job_golden() -> None:
    check = parse_spec(make_spec(smoke=[job_check("e2e")])).smoke_checks[0]
    job = build_check_job(CTX, check, "smoke", "abc", 2, "http://10.96.0.11:80/")
    assert job == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "shop-abc-smoke-e2e-2",
            "namespace": "shop",
            "labels": {
                "app.kubernetes.io/managed-by": "bluegreen-operator",
                "bluegreen.dev/release": "shop",
                "bluegreen.dev/revision": "abc",
                "bluegreen.dev/check": "e2e",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "e2e",
                            "image": "curlimages/curl:8.8.0",
                            "env": [
                                {"name": "BLUEGREEN_TARGET_URL", "value": "http://10.96.0.11:80/"},
                                {"name": "BLUEGREEN_REVISION", "value": "abc"},
                                {"name": "BLUEGREEN_STAGE", "value": "smoke"},
                            ],
                        }
                    ],
                    "restartPolicy": "Never",
                },
                "metadata": {
                    "labels": {
                        "app.kubernetes.io/managed-by": "bluegreen-operator",
                        "bluegreen.dev/release": "shop",
                        "bluegreen.dev/check": "e2e",
                        "bluegreen.dev/check-revision": "abc",
                    }
                },
            },
            "backoffLimit": 0,
            "activeDeadlineSeconds": 120,
        },
    }


def test_check_pods_never_match_a_revision_selector() -> None:
    check = parse_spec(make_spec(smoke=[job_check("e2e")])).smoke_checks[0]
    job = build_check_job(CTX, check, "hold", "abc", 1, "http://x/")
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    selector = names.revision_selector("shop", "abc")
    assert not all(pod_labels.get(k) == v for k, v in selector.items())
    # The spec's template is left untouched.
    assert check.job is not None
    assert "env" not in check.job.template["template"]["spec"]["containers"][0]


def test_long_names_stay_within_63_characters() -> None:
    name = names.job_name("a" * 40, "0123456789", "check-with-long-name", "smoke", 12)
    assert len(name) <= 63
    assert name == names.job_name("a" * 40, "0123456789", "check-with-long-name", "smoke", 12)
    assert name != names.job_name("a" * 40, "0123456789", "check-with-long-name", "smoke", 13)
