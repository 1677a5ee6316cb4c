"""The typed spec of a BlueGreenRelease, parsed from the custom resource's ``spec``.

The CRD schema rejects most bad input before it reaches us; ``parse_spec``
re-checks what the operator relies on, so a spec that slipped past an older
CRD becomes a Stalled condition with a reason instead of a crash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bluegreen.api import defaults
from bluegreen.api.conditions import Reason
from bluegreen.api.enums import DeletionPolicy, ServiceType, one_of

# The check caps are re-exported: tests and older code read them from here.
from bluegreen.api.limits import (
    HTTP_ATTEMPTS_MAX,
    HTTP_EXPECT_BODY_MAX_CHARS,
    HTTP_EXPECT_BODY_REGEX_MAX_CHARS,
    HTTP_PATH_MAX_CHARS,
    HTTP_TIMEOUT_MAX,
    HTTP_TIMEOUT_MIN,
    HTTP_URL_MAX_CHARS,
    JOB_TIMEOUT_MAX,
    JOB_TIMEOUT_MIN,
    MAX_CHECKS,
    MAX_DAY_SECONDS,
    MAX_HOLD_SECONDS,
    MAX_REPLICAS,
    PORT_MAX,
    PORT_MIN,
    PORT_NAME_MAX_CHARS,
)
from bluegreen.api.limits import RESERVED_VARIABLES as _RESERVED_VARIABLE_NAMES
from bluegreen.api.spec import (
    Check,
    HoldSpec,
    Hook,
    HooksSpec,
    HttpCheck,
    InfrastructureSpec,
    JobCheck,
    MetricCheck,
    PromotionSpec,
    ReleaseSpec,
    ServiceSpec,
)
from bluegreen.core.errors import SpecError
from bluegreen.core.ownership import reserved_label_keys
from bluegreen.core.spec_checks import parse_checks
from bluegreen.core.spec_hooks import parse_hooks
from bluegreen.core.spec_read import check_dns_label, read_int, read_mapping

__all__ = [
    "DEFAULT_HOLD_CHECK_INTERVAL",
    "DEFAULT_HOLD_SECONDS",
    "DEFAULT_READINESS_TIMEOUT",
    "HTTP_ATTEMPTS_MAX",
    "HTTP_EXPECT_BODY_MAX_CHARS",
    "HTTP_EXPECT_BODY_REGEX_MAX_CHARS",
    "HTTP_PATH_MAX_CHARS",
    "HTTP_TIMEOUT_MAX",
    "HTTP_TIMEOUT_MIN",
    "HTTP_URL_MAX_CHARS",
    "JOB_TIMEOUT_MAX",
    "JOB_TIMEOUT_MIN",
    "MAX_CHECKS",
    "MAX_DAY_SECONDS",
    "MAX_HOLD_SECONDS",
    "MAX_REPLICAS",
    "RESERVED_VARIABLES",
    "SERVICE_TYPES",
    "Check",
    "DeletionPolicy",
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
    "ServiceType",
    "parse_spec",
]

SERVICE_TYPES: tuple[str, ...] = tuple(ServiceType)
DELETION_POLICIES: tuple[str, ...] = tuple(DeletionPolicy)
# Older names of the defaults, for code written before bluegreen.api held them.
DEFAULT_READINESS_TIMEOUT = defaults.READINESS_TIMEOUT_SECONDS
DEFAULT_HOLD_SECONDS = defaults.HOLD_SECONDS
DEFAULT_HOLD_CHECK_INTERVAL = defaults.HOLD_CHECK_INTERVAL_SECONDS
RESERVED_VARIABLES = frozenset(_RESERVED_VARIABLE_NAMES)
_IANA_SVC_NAME = re.compile(rf"^[a-z0-9]([a-z0-9-]{{0,{PORT_NAME_MAX_CHARS - 2}}}[a-z0-9])?$")


def parse_spec(raw: Mapping[str, Any]) -> ReleaseSpec:
    """Turn the CR's spec into a ReleaseSpec, or raise SpecError with a reason."""
    template = read_mapping(raw.get("template"), "spec.template")
    containers = read_mapping(template.get("spec", {}), "spec.template.spec").get("containers")
    if not isinstance(containers, list) or not containers:
        raise SpecError(
            Reason.INVALID_TEMPLATE, "spec.template.spec.containers must list a container"
        )
    template_meta = read_mapping(template.get("metadata") or {}, "spec.template.metadata")
    reserved = reserved_label_keys(read_mapping(template_meta.get("labels") or {}, "labels"))
    if reserved:
        raise SpecError(
            Reason.INVALID_TEMPLATE,
            f"spec.template.metadata.labels may not set {reserved}: the operator's "
            "selectors depend on them",
        )
    replicas = read_int(
        raw.get("replicas", defaults.REPLICAS), "spec.replicas", minimum=1, maximum=MAX_REPLICAS
    )
    service = _service(read_mapping(raw.get("service"), "spec.service"))
    preview_raw = raw.get("previewService") or {}
    preview = str(read_mapping(preview_raw, "spec.previewService").get("name") or "")
    preview = preview or f"{service.name}{defaults.PREVIEW_SERVICE_SUFFIX}"
    check_dns_label(preview, "spec.previewService.name")
    if preview == service.name:
        raise SpecError(
            Reason.INVALID_SERVICE, "spec.previewService.name must differ from spec.service.name"
        )
    checks = read_mapping(raw.get("checks") or {}, "spec.checks")
    readiness = read_mapping(checks.get("readiness") or {}, "spec.checks.readiness")
    hold_raw = read_mapping(raw.get("hold") or {}, "spec.hold")
    smoke = parse_checks(checks.get("smoke") or [], "spec.checks.smoke")
    hold_checks = parse_checks(hold_raw.get("checks") or [], "spec.hold.checks")
    return ReleaseSpec(
        replicas=replicas,
        template=template,
        service=service,
        preview_service_name=preview,
        infrastructure=_infrastructure(raw.get("infrastructure") or {}),
        readiness_timeout_seconds=read_int(
            readiness.get("timeoutSeconds", defaults.READINESS_TIMEOUT_SECONDS),
            "spec.checks.readiness.timeoutSeconds",
            minimum=1,
            maximum=MAX_DAY_SECONDS,
        ),
        smoke_checks=smoke,
        promotion=_promotion(raw.get("promotion") or {}),
        hold=HoldSpec(
            seconds=read_int(
                hold_raw.get("seconds", defaults.HOLD_SECONDS),
                "spec.hold.seconds",
                minimum=0,
                maximum=MAX_HOLD_SECONDS,
            ),
            checks=hold_checks,
            check_interval_seconds=read_int(
                hold_raw.get("checkIntervalSeconds", defaults.HOLD_CHECK_INTERVAL_SECONDS),
                "spec.hold.checkIntervalSeconds",
                minimum=1,
                maximum=MAX_DAY_SECONDS,
            ),
        ),
        hooks=parse_hooks(raw.get("hooks")),
    )


def _service(raw: Mapping[str, Any]) -> ServiceSpec:
    name = str(raw.get("name") or "")
    check_dns_label(name, "spec.service.name")
    service_type = str(raw.get("type", defaults.SERVICE_TYPE))
    if service_type not in SERVICE_TYPES:
        raise SpecError(Reason.INVALID_SERVICE, f"spec.service.type must be one of {SERVICE_TYPES}")
    target = raw.get("targetPort", defaults.SERVICE_TARGET_PORT)
    target_port: int | str = (
        read_int(target, "spec.service.targetPort", minimum=PORT_MIN, maximum=PORT_MAX)
        if isinstance(target, int)
        else _port_name(target)
    )
    return ServiceSpec(
        name=name,
        type=service_type,
        port=read_int(
            raw.get("port", defaults.SERVICE_PORT),
            "spec.service.port",
            minimum=PORT_MIN,
            maximum=PORT_MAX,
        ),
        target_port=target_port,
    )


def _infrastructure(raw: Any) -> InfrastructureSpec:
    infra = read_mapping(raw, "spec.infrastructure")
    terraform = read_mapping(infra.get("terraform") or {}, "spec.infrastructure.terraform")
    reserved = sorted(RESERVED_VARIABLES & set(terraform.get("variables") or {}))
    if reserved:
        raise SpecError(
            Reason.INVALID_INFRASTRUCTURE,
            f"spec.infrastructure.terraform.variables may not set {reserved}: "
            "the operator derives them from the release",
        )
    policy = str(infra.get("deletionPolicy", defaults.DELETION_POLICY))
    if policy not in DELETION_POLICIES:
        raise SpecError(
            Reason.INVALID_INFRASTRUCTURE,
            f"spec.infrastructure.deletionPolicy must be {one_of(DELETION_POLICIES)}",
        )
    return InfrastructureSpec(
        variables=dict(read_mapping(terraform.get("variables") or {}, "terraform.variables")),
        deletion_policy=policy,
    )


def _promotion(raw: Any) -> PromotionSpec:
    promotion = read_mapping(raw, "spec.promotion")
    approved = promotion.get("approvedRevision")
    return PromotionSpec(
        auto=bool(promotion.get("auto", defaults.PROMOTION_AUTO)),
        approved_revision=str(approved) if approved else None,
    )


def _port_name(value: Any) -> str:
    """A named container port, as Kubernetes accepts it (IANA_SVC_NAME)."""
    name = str(value)
    valid = bool(_IANA_SVC_NAME.match(name)) and "--" not in name and any(c.isalpha() for c in name)
    if not valid:
        raise SpecError(
            Reason.INVALID_SERVICE,
            "spec.service.targetPort must be a port number or a port name of "
            f"1-{PORT_NAME_MAX_CHARS} lowercase "
            f"letters, digits and '-', with a letter and no '--' (got {name[:40]!r})",
        )
    return name
