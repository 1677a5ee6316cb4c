"""Reading the kubernetes backend's state Secrets and deciding whether legacy state moves,
and whether an existing Service may be taken into Terraform's state."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from bluegreen.core import service_claim, tfstate
from bluegreen.core.service_claim import Claim
from bluegreen.core.tfstate import MigrationStep

NS, RELEASE = "shop", "a-b"
OURS = {"app.kubernetes.io/managed-by": "bluegreen-operator", "bluegreen.dev/release": RELEASE}


def service(name: str, namespace: str = NS, labels: dict[str, str] | None = None) -> Any:
    return {
        "mode": "managed",
        "type": "kubernetes_service_v1",
        "name": name,
        "provider": 'provider["registry.terraform.io/hashicorp/kubernetes"]',
        "instances": [
            {
                "schema_version": 1,
                "attributes": {
                    "id": f"{namespace}/{name}",
                    "metadata": [
                        {
                            "name": name,
                            "namespace": namespace,
                            "labels": OURS if labels is None else labels,
                            "uid": f"uid-{namespace}-{name}",
                        }
                    ],
                },
            }
        ],
    }


def state(*resources: Any) -> dict[str, Any]:
    return {"version": 4, "serial": 3, "lineage": "l", "resources": list(resources)}


def secret(document: dict[str, Any] | None, uid: str = "legacy-uid", **annotations: str) -> Any:
    data = {}
    if document is not None:
        raw = gzip.compress(json.dumps(document).encode())
        data["tfstate"] = base64.b64encode(raw).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "tfstate-default-shop-a-b",
            "namespace": "bluegreen-system",
            "uid": uid,
            "labels": {"tfstate": "true", "tfstateSecretSuffix": "shop-a-b"},
            "annotations": {"encoding": "gzip", **annotations},
        },
        "data": data,
    }


BOTH = state(service("stable"), service("preview"))


def step(new: Any, legacy: Any, namespace: str = NS, release: str = RELEASE) -> MigrationStep:
    return tfstate.plan_migration(new, legacy, namespace, release).step


def test_state_of_this_release_only_is_copied() -> None:
    assert step(None, secret(BOTH)) is MigrationStep.COPY


@pytest.mark.parametrize(
    "document",
    [
        None,  # a Secret without data
        state(),  # an empty state (e.g. after a destroy)
        state(service("stable"), service("preview", namespace="shop-a")),  # mixed
        state(service("stable", labels={**OURS, "bluegreen.dev/release": "b"})),
        state(service("stable", labels={"bluegreen.dev/release": RELEASE})),  # not managed-by
        state(service("stable"), {**service("this"), "type": "kubernetes_namespace_v1"}),
        state({**service("stable"), "module": "module.other"}),
    ],
    ids=["no-data", "empty", "mixed", "other-release", "unmanaged", "namespace", "module"],
)
def test_state_that_is_empty_or_not_provably_ours_stays(document: Any) -> None:
    assert step(None, secret(document)) is MigrationStep.NOTHING


def test_the_twin_release_of_a_shared_legacy_key_leaves_it_alone() -> None:
    # shop/a-b and shop-a/b shared "shop-a-b": the state holds shop/a-b's Services.
    assert step(None, secret(BOTH), namespace="shop-a", release="b") is MigrationStep.NOTHING


def test_nothing_without_legacy_state() -> None:
    assert step(None, None) is MigrationStep.NOTHING
    assert step(secret(BOTH, uid="new"), None) is MigrationStep.NOTHING


def test_a_copy_interrupted_before_the_delete_is_finished() -> None:
    new = secret(BOTH, uid="new-uid", **{tfstate.MIGRATED_FROM_ANNOTATION: "legacy-uid"})
    assert step(new, secret(BOTH)) is MigrationStep.FINISH


def test_an_unrelated_new_state_never_deletes_the_legacy_one() -> None:
    assert step(secret(BOTH, uid="new-uid"), secret(BOTH)) is MigrationStep.NOTHING
    # The copy of another legacy Secret (re-created since) does not count either.
    new = secret(BOTH, uid="new-uid", **{tfstate.MIGRATED_FROM_ANNOTATION: "older-uid"})
    assert step(new, secret(BOTH)) is MigrationStep.NOTHING


def test_unreadable_legacy_state_is_left_alone() -> None:
    broken = secret(None)
    broken["data"]["tfstate"] = base64.b64encode(b"not gzip").decode()
    assert step(None, broken) is MigrationStep.NOTHING
    with pytest.raises(tfstate.StateUnreadableError):
        tfstate.decode_state(broken)


def test_migrated_secret_keeps_data_and_annotations_and_is_relabelled() -> None:
    legacy = secret(BOTH)
    legacy["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "terraform"
    body = tfstate.migrated_secret(legacy, "shop.a-b.h0123456789ab")
    meta = body["metadata"]
    assert meta["name"] == "tfstate-default-shop.a-b.h0123456789ab"
    assert meta["namespace"] == "bluegreen-system"
    assert meta["labels"] == {
        "tfstate": "true",
        "tfstateSecretSuffix": "shop.a-b.h0123456789ab",
        "app.kubernetes.io/managed-by": "terraform",
    }
    assert meta["annotations"] == {
        "encoding": "gzip",
        tfstate.MIGRATED_FROM_ANNOTATION: "legacy-uid",
    }
    assert body["data"] == legacy["data"] and body["type"] == "Opaque"
    assert "uid" not in meta and "resourceVersion" not in meta
    assert tfstate.decode_state(body) == BOTH


def test_service_uids_by_address() -> None:
    assert tfstate.service_uids(BOTH) == {
        "kubernetes_service_v1.stable": "uid-shop-stable",
        "kubernetes_service_v1.preview": "uid-shop-preview",
    }
    assert tfstate.service_uids(state()) == {}
    assert not tfstate.has_resources(state()) and tfstate.has_resources(BOTH)


def live(uid: str, labels: dict[str, str] | None = None, **annotations: str) -> Any:
    return {"metadata": {"uid": uid, "labels": labels or {}, "annotations": annotations}}


@pytest.mark.parametrize(
    ("service", "tracked", "expected"),
    [
        (None, None, Claim.ABSENT),
        (None, "u1", Claim.ABSENT),
        (live("u1"), "u1", Claim.TRACKED),  # labels edited away: still the object we made
        (live("u2", OURS), None, Claim.OURS),
        (live("u2", OURS), "u1", Claim.OURS),
        (live("u2", {}, **{"bluegreen.dev/adopt": RELEASE}), None, Claim.ADOPTABLE),
        (live("u2", {}, **{"bluegreen.dev/adopt": "other"}), None, Claim.FOREIGN),
        (live("u2", {**OURS, "bluegreen.dev/release": "other"}), None, Claim.FOREIGN),
        (live("u2", {"bluegreen.dev/release": RELEASE}), None, Claim.FOREIGN),
        (live("u2"), "u1", Claim.FOREIGN),  # replaced by a look-alike since the apply
    ],
)
def test_claims(service: Any, tracked: str | None, expected: Claim) -> None:
    verdict = service_claim.claim(service, tracked, RELEASE)
    assert verdict is expected
    assert verdict.writable is (expected is not Claim.FOREIGN)


def test_refusal_message_starts_with_the_reason() -> None:
    message = service_claim.refusal(NS, "shop", RELEASE)
    assert message.startswith("ServiceNotOwned: ")
    assert "bluegreen.dev/adopt=a-b" in message


def plan_change(address: str, actions: list[str], before_uid: str | None) -> Any:
    before = None if before_uid is None else {"metadata": [{"uid": before_uid}]}
    return {"address": address, "change": {"actions": actions, "before": before}}


STABLE, PREVIEW = "kubernetes_service_v1.stable", "kubernetes_service_v1.preview"


def test_a_plan_writing_only_the_judged_objects_passes() -> None:
    plan = {
        "resource_changes": [
            plan_change(STABLE, ["update"], "u1"),
            plan_change(PREVIEW, ["create"], None),
            plan_change("kubernetes_namespace_v1.this[0]", ["update"], "ns"),
        ]
    }
    assert tfstate.unexpected_targets(plan, {STABLE: "u1", PREVIEW: ""}) == []
    assert tfstate.unexpected_targets({}, {STABLE: "u1"}) == []


def test_a_plan_writing_an_object_replaced_since_the_check_is_caught() -> None:
    plan = {
        "resource_changes": [
            plan_change(STABLE, ["update"], "look-alike"),
            plan_change(PREVIEW, ["delete", "create"], "look-alike-2"),
        ]
    }
    assert tfstate.unexpected_targets(plan, {STABLE: "u1", PREVIEW: ""}) == [STABLE, PREVIEW]
    no_op = {"resource_changes": [plan_change(STABLE, ["no-op"], "look-alike")]}
    assert tfstate.unexpected_targets(no_op, {STABLE: "u1"}) == []
