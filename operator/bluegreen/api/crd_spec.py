"""The spec's schema as it sits on the wire, assembled from the models' field schemas.

The models are shaped for the operator; the wire groups some of their fields
(``previewService.name``, ``checks.readiness.timeoutSeconds``,
``infrastructure.terraform.variables``) and carries a pod template that the API
server validates in full only when the Deployment is created. Those groupings,
and the part of the template the operator relies on, are laid out here; every
leaf comes from a model field.
"""

from __future__ import annotations

from typing import Final

from bluegreen.api import defaults
from bluegreen.api.limits import (
    ANNOTATION_VALUE_MAX_CHARS,
    DNS_LABEL_MAX_CHARS,
    LABEL_KEY_MAX_CHARS,
    LABEL_VALUE_MAX_CHARS,
    LABEL_VALUE_PATTERN,
    MAX_CONTAINERS,
    MAX_POD_ANNOTATIONS,
    MAX_POD_LABELS,
    RESERVED_VARIABLES,
)
from bluegreen.api.schema import Rule, Schema, array, field_schema, obj
from bluegreen.api.spec import ReleaseSpec
from bluegreen.api.v1alpha1 import MANAGED_BY_LABEL, RESERVED_LABEL_PREFIX

_LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
"""A label key as a CEL string literal (hence the doubled backslash): an optional DNS
subdomain prefix and '/', then a name."""
_LONGEST_DEFAULTED_SERVICE_NAME: Final = DNS_LABEL_MAX_CHARS - len(defaults.PREVIEW_SERVICE_SUFFIX)
"""The stable Service's name must leave room for the default preview name's suffix."""


def spec_schema() -> Schema:
    return obj(
        "The desired release. The operator never writes it.",
        {
            "replicas": _field("replicas"),
            "template": _template(),
            "service": _field("service"),
            "previewService": obj(
                "The Service that always selects the candidate, for checks and people to try "
                "it before the switch.",
                {"name": _field("preview_service_name")},
            ),
            "infrastructure": _infrastructure(),
            "checks": obj(
                "Checks a candidate must pass before the switch.",
                {
                    "readiness": obj(
                        "The readiness gate.",
                        {"timeoutSeconds": _field("readiness_timeout_seconds")},
                        default={},
                    ),
                    "smoke": _field("smoke_checks"),
                },
                default={},
            ),
            "promotion": _field("promotion"),
            "hold": _field("hold"),
            "hooks": _field("hooks"),
        },
        required=("template", "service"),
        rules=(
            Rule(
                "!has(self.previewService) || !has(self.previewService.name)"
                " || self.previewService.name != self.service.name",
                "spec.previewService.name must differ from spec.service.name",
                field_path=".previewService.name",
            ),
            Rule(
                "(has(self.previewService) && has(self.previewService.name))"
                f" || size(self.service.name) <= {_LONGEST_DEFAULTED_SERVICE_NAME}",
                f"spec.service.name must be at most {_LONGEST_DEFAULTED_SERVICE_NAME} "
                "characters unless spec.previewService.name is set (the preview Service "
                f"defaults to <service.name>{defaults.PREVIEW_SERVICE_SUFFIX})",
                field_path=".service.name",
            ),
        ),
    )


def _field(name: str) -> Schema:
    return field_schema(ReleaseSpec, name, as_input=True)


def _template() -> Schema:
    pod_labels = obj(
        f"Pod labels. Keys under {RESERVED_LABEL_PREFIX} and {MANAGED_BY_LABEL} are the "
        "operator's own.",
        max_properties=MAX_POD_LABELS,
        additional={
            "type": "string",
            "maxLength": LABEL_VALUE_MAX_CHARS,
            "pattern": LABEL_VALUE_PATTERN,
        },
        rules=(
            Rule(
                f"self.all(k, !k.startsWith('{RESERVED_LABEL_PREFIX}')"
                f" && k != '{MANAGED_BY_LABEL}')",
                "spec.template.metadata.labels must not use keys starting with "
                f"{RESERVED_LABEL_PREFIX} nor {MANAGED_BY_LABEL}: the operator's selectors "
                "depend on them",
            ),
            Rule(
                f"self.all(k, size(k) <= {LABEL_KEY_MAX_CHARS} && k.matches('{_LABEL_KEY}'))",
                "spec.template.metadata.labels keys must be valid label keys ([prefix/]name: "
                "a DNS subdomain prefix, a name of alphanumerics, '-', '_' and '.')",
            ),
        ),
    )
    pod_annotations = obj(
        "Pod annotations.",
        max_properties=MAX_POD_ANNOTATIONS,
        additional={"type": "string", "maxLength": ANNOTATION_VALUE_MAX_CHARS},
    )
    containers = array(
        "The containers; the first one's image is reported as the version.",
        {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        max_items=MAX_CONTAINERS,
    )
    return obj(
        _field("template")["description"],
        {
            "metadata": obj(
                "Labels and annotations of the pods.",
                {"labels": pod_labels, "annotations": pod_annotations},
                preserve_unknown=True,
            ),
            "spec": obj(
                "The pod spec (a PodSpec), validated in full when the Deployment is created.",
                {"containers": containers},
                preserve_unknown=True,
            ),
        },
        preserve_unknown=True,
        rules=(
            Rule(
                "has(self.spec) && has(self.spec.containers) && size(self.spec.containers) > 0",
                "spec.template.spec.containers must list at least one container",
                field_path=".spec.containers",
            ),
        ),
    )


_RESERVED_VARIABLE_TYPES: Final[dict[str, Schema]] = {
    "create_namespace": {"type": "boolean"},
    "labels": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}
"""Declared so the rule below can refuse them by name; other reserved values may be
numbers or strings."""


def _infrastructure() -> Schema:
    """The model keeps ``variables`` flat; on the wire they sit under ``terraform``."""
    schema = _field("infrastructure")
    flat = schema["properties"]
    reserved = {
        name: {
            "description": "Reserved; the operator derives it.",
            **_RESERVED_VARIABLE_TYPES.get(name, {"x-kubernetes-int-or-string": True}),
        }
        for name in RESERVED_VARIABLES
    }
    *listed, last = RESERVED_VARIABLES
    variables = {
        **flat["variables"],
        "properties": reserved,
        "x-kubernetes-validations": [
            Rule(
                " && ".join(f"!has(self.{name})" for name in RESERVED_VARIABLES),
                "spec.infrastructure.terraform.variables may not set "
                f"{', '.join(listed)} nor {last}: the operator derives them from the release",
            ).to_schema()
        ],
    }
    terraform = obj("Terraform settings.", {"variables": variables})
    return schema | {
        "properties": {"terraform": terraform, "deletionPolicy": flat["deletionPolicy"]}
    }
