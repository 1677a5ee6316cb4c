"""The typed spec of a BlueGreenRelease, and each field's CRD schema.

``core.spec.parse_spec`` builds these from the custom resource's ``spec``;
``crd`` generates the schema from their field metadata. The models follow the
wire shape except at the top (``ReleaseSpec`` flattens ``previewService.name``,
``checks.readiness`` and ``checks.smoke``), which ``crd_spec`` lays out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bluegreen.api import defaults
from bluegreen.api.checks import (
    CHECK_ITEM,
    Check,
    HttpCheck,
    JobCheck,
    MetricCheck,
    unique_check_names,
)
from bluegreen.api.enums import DeletionPolicy, ServiceType
from bluegreen.api.hooks import Hook, HooksSpec
from bluegreen.api.limits import (
    DNS_LABEL_MAX_CHARS,
    DNS_LABEL_PATTERN,
    MAX_CHECKS,
    MAX_DAY_SECONDS,
    MAX_HOLD_SECONDS,
    MAX_REPLICAS,
    MAX_VARIABLES,
    PORT_MAX,
    PORT_MIN,
    PORT_NAME_MAX_CHARS,
    REVISION_LENGTH,
)
from bluegreen.api.schema import Rule, doc
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION

__all__ = [
    "Check",
    "HoldSpec",
    "Hook",
    "HooksSpec",
    "HttpCheck",
    "InfrastructureSpec",
    "JobCheck",
    "MetricCheck",
    "PromotionSpec",
    "ReleaseSpec",
    "ServiceSpec",
]


@dataclass(frozen=True)
class ServiceSpec:
    name: str = field(
        metadata=doc(
            "Name of the stable Service (a DNS label).",
            max_length=DNS_LABEL_MAX_CHARS,
            pattern=DNS_LABEL_PATTERN,
        )
    )
    type: str = field(
        default=defaults.SERVICE_TYPE,
        metadata=doc("The Service type.", enum=ServiceType),
    )
    port: int = field(
        default=defaults.SERVICE_PORT,
        metadata=doc("The port the Service exposes.", minimum=PORT_MIN, maximum=PORT_MAX),
    )
    target_port: int | str = field(
        default=defaults.SERVICE_TARGET_PORT,
        metadata=doc(
            "The container port (number or name) traffic goes to.",
            rules=(
                Rule(
                    f"type(self) == int ? (self >= {PORT_MIN} && self <= {PORT_MAX})"
                    f" : (size(self) >= 1 && size(self) <= {PORT_NAME_MAX_CHARS}"
                    " && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')"
                    " && self.matches('[a-z]') && !self.contains('--'))",
                    f"spec.service.targetPort must be a port number ({PORT_MIN}-{PORT_MAX}) or "
                    f"a port name (an IANA service name: 1-{PORT_NAME_MAX_CHARS} lower-case "
                    "letters, digits and single hyphens, with at least one letter)",
                ),
            ),
        ),
    )


@dataclass(frozen=True)
class InfrastructureSpec:
    variables: Mapping[str, Any] = field(
        default_factory=dict,
        metadata=doc(
            f"Extra input variables for the bundled module in terraform/ (at most "
            f"{MAX_VARIABLES}). Those the operator derives from the release may not be set.",
            max_properties=MAX_VARIABLES,
        ),
    )
    deletion_policy: str = field(
        default=defaults.DELETION_POLICY,
        metadata=doc(
            "What deleting the release does to the infrastructure it created.",
            enum=DeletionPolicy,
        ),
    )


@dataclass(frozen=True)
class PromotionSpec:
    auto: bool = field(
        default=defaults.PROMOTION_AUTO,
        metadata=doc("Switch as soon as the checks pass; false waits for an approval."),
    )
    approved_revision: str | None = field(
        default=None,
        metadata=doc(
            "Approves this exact revision for the switch (the other way to approve is the "
            f"annotation {ACTION_ANNOTATION}=promote).",
            max_length=REVISION_LENGTH,
            pattern=f"^([0-9a-f]{{{REVISION_LENGTH}}})?$",
        ),
    )


@dataclass(frozen=True)
class HoldSpec:
    seconds: int = field(
        default=defaults.HOLD_SECONDS,
        metadata=doc(
            "How long the previous revision is kept after the switch (at most 7 days).",
            minimum=0,
            maximum=MAX_HOLD_SECONDS,
        ),
    )
    checks: tuple[Check, ...] = field(
        default=(),
        metadata=doc(
            "Checks run during the hold; a failure switches back to the previous revision at once.",
            max_items=MAX_CHECKS,
            rules=(unique_check_names("spec.hold.checks"),),
            items=CHECK_ITEM,
        ),
    )
    check_interval_seconds: int = field(
        default=defaults.HOLD_CHECK_INTERVAL_SECONDS,
        metadata=doc(
            "Seconds between two runs of the hold checks (at most a day).",
            minimum=1,
            maximum=MAX_DAY_SECONDS,
        ),
    )


@dataclass(frozen=True)
class ReleaseSpec:
    replicas: int = field(
        metadata=doc(
            "Pods of the first release. Later candidates start with as many replicas as the "
            "active revision.",
            minimum=1,
            maximum=MAX_REPLICAS,
            default=defaults.REPLICAS,
        )
    )
    template: Mapping[str, Any] = field(
        metadata=doc(
            "The pod template (a PodTemplateSpec, exactly as in a Deployment). Its canonical "
            "hash is the revision; each revision runs as the Deployment <release>-<revision>."
        )
    )
    service: ServiceSpec = field(
        metadata=doc(
            "The stable Service users reach. Terraform creates it; the operator only ever "
            "patches its selector."
        )
    )
    preview_service_name: str = field(
        metadata=doc(
            "Name of the preview Service (a DNS label); default "
            f"<service.name>{defaults.PREVIEW_SERVICE_SUFFIX}.",
            max_length=DNS_LABEL_MAX_CHARS,
            pattern=DNS_LABEL_PATTERN,
        )
    )
    infrastructure: InfrastructureSpec = field(
        default_factory=InfrastructureSpec,
        metadata=doc(
            "The base infrastructure, applied with the bundled Terraform module.", default={}
        ),
    )
    readiness_timeout_seconds: int = field(
        default=defaults.READINESS_TIMEOUT_SECONDS,
        metadata=doc(
            "Seconds the candidate has to become Available (all replicas updated, ready and "
            "available); after that the release fails.",
            minimum=1,
            maximum=MAX_DAY_SECONDS,
        ),
    )
    smoke_checks: tuple[Check, ...] = field(
        default=(),
        metadata=doc(
            "Checks run against the candidate (through the preview Service) before the "
            "switch; all must pass.",
            max_items=MAX_CHECKS,
            rules=(unique_check_names("spec.checks.smoke"),),
            items=CHECK_ITEM,
        ),
    )
    promotion: PromotionSpec = field(
        default_factory=PromotionSpec,
        metadata=doc("The gate between passed checks and the switch.", default={}),
    )
    hold: HoldSpec = field(
        default_factory=HoldSpec,
        metadata=doc(
            "After the switch the previous revision stays up, ready for an instant rollback, "
            "while hold checks run against the stable Service.",
            default={},
        ),
    )
    hooks: HooksSpec = field(
        default_factory=HooksSpec,
        metadata=doc(
            "Migration Jobs run at named points of each release, once per revision: before "
            "the switch (expand), after it, and after the previous revision is deleted "
            "(contract).",
            default={},
        ),
    )

    @property
    def image(self) -> str:
        """The first container's image: what people call "the version"."""
        containers = self.template.get("spec", {}).get("containers", [])
        return str(containers[0].get("image", "")) if containers else ""
