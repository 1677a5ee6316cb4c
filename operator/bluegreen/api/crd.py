"""The BlueGreenRelease CustomResourceDefinition, generated from the models.

``make manifests`` writes it to ``crds/`` and ``manifests/crd/``; ``make lint``
fails when the committed files differ, so the schema the API server enforces
and the models the operator parses into can never disagree.
"""

from __future__ import annotations

from typing import Any, Final

from bluegreen.api.conditions import ConditionType
from bluegreen.api.crd_spec import spec_schema
from bluegreen.api.human_actions import KNOWN
from bluegreen.api.limits import RELEASE_NAME_MAX_CHARS
from bluegreen.api.schema import Rule, Schema, object_schema, ordered
from bluegreen.api.status import ReleaseStatus
from bluegreen.api.v1alpha1 import (
    ACTION_ANNOTATION,
    CATEGORIES,
    CRD_NAME,
    GROUP,
    KIND,
    LIST_KIND,
    OPERATOR_NAME,
    PLURAL,
    RELEASE_LABEL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
)

_DESCRIPTION: Final = (
    "A blue/green release: the operator provisions the base infrastructure with Terraform, "
    "starts the new revision beside the live one, proves it ready and healthy, switches the "
    "stable Service to it, keeps the old revision warm for a hold period, then removes it. "
    f"Human actions ({', '.join(KNOWN)}) arrive through the {ACTION_ANNOTATION} annotation."
)


SCALE_SUBRESOURCE: Final = {
    "specReplicasPath": ".spec.replicas",
    "statusReplicasPath": ".status.active.replicas",
    "labelSelectorPath": ".status.selector",
}
"""``kubectl scale`` and a HorizontalPodAutoscaler drive spec.replicas, which reaches the
serving Deployment (and a candidate in flight) at once; the active revision's pods are
the ones they measure."""


def build_crd() -> dict[str, Any]:
    """The CRD as a plain dict, ready for ``yaml.safe_dump`` or the API server."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": OPERATOR_NAME,
                "app.kubernetes.io/part-of": OPERATOR_NAME,
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": LIST_KIND,
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}, "scale": SCALE_SUBRESOURCE},
                    "additionalPrinterColumns": _printer_columns(),
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


def openapi_schema() -> Schema:
    """The whole object's schema: identity, spec and status."""
    return ordered(
        {
            "description": _DESCRIPTION,
            "type": "object",
            "required": ["spec"],
            "x-kubernetes-validations": [
                Rule(
                    f"size(self.metadata.name) <= {RELEASE_NAME_MAX_CHARS}",
                    f"metadata.name must be at most {RELEASE_NAME_MAX_CHARS} characters: it "
                    f"becomes the value of the {RELEASE_LABEL} label on everything the release "
                    "creates",
                ).to_schema()
            ],
            "properties": {
                "apiVersion": {
                    "description": "The versioned schema of this representation of an object.",
                    "type": "string",
                },
                "kind": {
                    "description": "The REST resource this object represents.",
                    "type": "string",
                },
                "metadata": {"type": "object"},
                "spec": spec_schema(),
                "status": object_schema(
                    ReleaseStatus,
                    as_input=False,
                    description="What the operator observed and did. All progress of a release "
                    "lives here, so the operator can restart at any instant and carry on.",
                ),
            },
        }
    )


def _printer_columns() -> list[dict[str, str]]:
    """What ``kubectl get bgr`` shows: where each release stands, at a glance."""
    return [
        {
            "name": "Phase",
            "type": "string",
            "description": "Where the current release stands.",
            "jsonPath": ".status.phase",
        },
        {
            "name": "Active",
            "type": "string",
            "description": "The revision the stable Service selects.",
            "jsonPath": ".status.active.revision",
        },
        {
            "name": "Preview",
            "type": "string",
            "description": "The candidate revision being deployed and verified.",
            "jsonPath": ".status.preview.revision",
        },
        {
            "name": "Ready",
            "type": "string",
            "description": "True when the desired revision serves all traffic and nothing is "
            "in flight.",
            "jsonPath": f'.status.conditions[?(@.type=="{ConditionType.READY}")].status',
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
