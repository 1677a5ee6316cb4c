"""The typed spec of a BlueGreenRelease, parsed from the custom resource's ``spec``.

The CRD schema rejects most bad input before it reaches us; ``parse_spec``
re-checks what the operator relies on, so a spec that slipped past an older
CRD becomes a Stalled condition with a reason instead of a crash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from bluegreen.core.body_regex import BodyRegexError, compile_body_regex
from bluegreen.core.errors import SpecError
from bluegreen.core.ownership import reserved_label_keys

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
DeletionPolicy = Literal["Delete", "Retain"]
SERVICE_TYPES: tuple[str, ...] = ("ClusterIP", "NodePort", "LoadBalancer")
MAX_HOLD_SECONDS = 7 * 24 * 3600
MAX_REPLICAS = 1000
MAX_DAY_SECONDS = 24 * 3600
"""Bound of readiness timeouts and hold check intervals."""
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")
DEFAULT_READINESS_TIMEOUT = 600
DEFAULT_HOLD_SECONDS = 600
DEFAULT_HOLD_CHECK_INTERVAL = 30

# Caps on what a release author controls in a check; the CRD schema uses the
# same numbers, and parse_spec re-checks them for specs that predate it.
MAX_CHECKS = 16
"""Checks per list (smoke, hold)."""
HTTP_TIMEOUT_MIN, HTTP_TIMEOUT_MAX = 1, 60
"""http.timeoutSeconds bounds: one attempt, connect to last body byte."""
HTTP_ATTEMPTS_MAX = 10
HTTP_EXPECT_BODY_MAX_CHARS = 1024
HTTP_EXPECT_BODY_REGEX_MAX_CHARS = 256
HTTP_PATH_MAX_CHARS = 1024
HTTP_URL_MAX_CHARS = 2048
JOB_TIMEOUT_MIN, JOB_TIMEOUT_MAX = 1, 3600


@dataclass(frozen=True)
class HttpCheck:
    """An HTTP GET that must answer with the expected status and body."""

    path: str = "/"
    port: int | None = None
    """Service port to call; defaults to the stable Service's port."""
    url: str | None = None
    """Base URL (scheme://host:port) used instead of the Service's ClusterIP."""
    expect_status: int = 200
    expect_body: str | None = None
    """A substring the body must contain."""
    expect_body_regex: str | None = None
    timeout_seconds: float = 5
    attempts: int = 3
    """A check passes on its first successful attempt; fails after this many."""


@dataclass(frozen=True)
class JobCheck:
    """A Job that must succeed; its pod template comes from the spec."""

    template: Mapping[str, Any]
    timeout_seconds: int = 300


@dataclass(frozen=True)
class Check:
    name: str
    http: HttpCheck | None = None
    job: JobCheck | None = None

    @property
    def kind(self) -> str:
        return "http" if self.http is not None else "job"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    type: str = "ClusterIP"
    port: int = 80
    target_port: int | str = 5000


@dataclass(frozen=True)
class InfrastructureSpec:
    variables: Mapping[str, Any] = field(default_factory=dict)
    deletion_policy: str = "Delete"


@dataclass(frozen=True)
class PromotionSpec:
    auto: bool = True
    approved_revision: str | None = None


@dataclass(frozen=True)
class HoldSpec:
    seconds: int = DEFAULT_HOLD_SECONDS
    checks: tuple[Check, ...] = ()
    check_interval_seconds: int = DEFAULT_HOLD_CHECK_INTERVAL


@dataclass(frozen=True)
class ReleaseSpec:
    replicas: int
    template: Mapping[str, Any]
    service: ServiceSpec
    preview_service_name: str
    infrastructure: InfrastructureSpec = field(default_factory=InfrastructureSpec)
    readiness_timeout_seconds: int = DEFAULT_READINESS_TIMEOUT
    smoke_checks: tuple[Check, ...] = ()
    promotion: PromotionSpec = field(default_factory=PromotionSpec)
    hold: HoldSpec = field(default_factory=HoldSpec)

    @property
    def image(self) -> str:
        """The first container's image: what people call "the version"."""
        containers = self.template.get("spec", {}).get("containers", [])
        return str(containers[0].get("image", "")) if containers else ""


_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f]")
"""Whitespace and control characters: never part of a URL we send."""


def parse_spec(raw: Mapping[str, Any]) -> ReleaseSpec:
    """Turn the CR's spec into a ReleaseSpec, or raise SpecError with a reason."""
    template = _mapping(raw.get("template"), "spec.template")
    containers = _mapping(template.get("spec", {}), "spec.template.spec").get("containers")
    if not isinstance(containers, list) or not containers:
        raise SpecError("InvalidTemplate", "spec.template.spec.containers must list a container")
    template_meta = _mapping(template.get("metadata") or {}, "spec.template.metadata")
    reserved = reserved_label_keys(_mapping(template_meta.get("labels") or {}, "labels"))
    if reserved:
        raise SpecError(
            "InvalidTemplate",
            f"spec.template.metadata.labels may not set {reserved}: the operator's "
            "selectors depend on them",
        )
    replicas = _int(raw.get("replicas", 1), "spec.replicas", minimum=1, maximum=MAX_REPLICAS)
    service = _service(_mapping(raw.get("service"), "spec.service"))
    preview_raw = raw.get("previewService") or {}
    preview = str(_mapping(preview_raw, "spec.previewService").get("name") or "")
    preview = preview or f"{service.name}-preview"
    _dns_label(preview, "spec.previewService.name")
    if preview == service.name:
        raise SpecError(
            "InvalidService", "spec.previewService.name must differ from spec.service.name"
        )
    checks = _mapping(raw.get("checks") or {}, "spec.checks")
    readiness = _mapping(checks.get("readiness") or {}, "spec.checks.readiness")
    hold_raw = _mapping(raw.get("hold") or {}, "spec.hold")
    smoke = _checks(checks.get("smoke") or [], "spec.checks.smoke")
    hold_checks = _checks(hold_raw.get("checks") or [], "spec.hold.checks")
    return ReleaseSpec(
        replicas=replicas,
        template=template,
        service=service,
        preview_service_name=preview,
        infrastructure=_infrastructure(raw.get("infrastructure") or {}),
        readiness_timeout_seconds=_int(
            readiness.get("timeoutSeconds", DEFAULT_READINESS_TIMEOUT),
            "spec.checks.readiness.timeoutSeconds",
            minimum=1,
            maximum=MAX_DAY_SECONDS,
        ),
        smoke_checks=smoke,
        promotion=_promotion(raw.get("promotion") or {}),
        hold=HoldSpec(
            seconds=_int(
                hold_raw.get("seconds", DEFAULT_HOLD_SECONDS),
                "spec.hold.seconds",
                minimum=0,
                maximum=MAX_HOLD_SECONDS,
            ),
            checks=hold_checks,
            check_interval_seconds=_int(
                hold_raw.get("checkIntervalSeconds", DEFAULT_HOLD_CHECK_INTERVAL),
                "spec.hold.checkIntervalSeconds",
                minimum=1,
                maximum=MAX_DAY_SECONDS,
            ),
        ),
    )


def _service(raw: Mapping[str, Any]) -> ServiceSpec:
    name = str(raw.get("name") or "")
    _dns_label(name, "spec.service.name")
    service_type = str(raw.get("type", "ClusterIP"))
    if service_type not in SERVICE_TYPES:
        raise SpecError("InvalidService", f"spec.service.type must be one of {SERVICE_TYPES}")
    target = raw.get("targetPort", 5000)
    target_port: int | str = (
        _int(target, "spec.service.targetPort", minimum=1, maximum=65535)
        if isinstance(target, int)
        else _port_name(target)
    )
    return ServiceSpec(
        name=name,
        type=service_type,
        port=_int(raw.get("port", 80), "spec.service.port", minimum=1, maximum=65535),
        target_port=target_port,
    )


RESERVED_VARIABLES = frozenset(
    {
        "release_name",
        "namespace",
        "create_namespace",
        "service_name",
        "preview_service_name",
        "service_type",
        "service_port",
        "target_port",
        "labels",
        "kubeconfig_path",
    }
)
"""Module variables the operator derives: where things live and what the Services look
like come from ``spec.service`` and the release's identity, not from free-form inputs."""


def _infrastructure(raw: Any) -> InfrastructureSpec:
    infra = _mapping(raw, "spec.infrastructure")
    terraform = _mapping(infra.get("terraform") or {}, "spec.infrastructure.terraform")
    reserved = sorted(RESERVED_VARIABLES & set(terraform.get("variables") or {}))
    if reserved:
        raise SpecError(
            "InvalidInfrastructure",
            f"spec.infrastructure.terraform.variables may not set {reserved}: "
            "the operator derives them from the release",
        )
    policy = str(infra.get("deletionPolicy", "Delete"))
    if policy not in ("Delete", "Retain"):
        raise SpecError(
            "InvalidInfrastructure", "spec.infrastructure.deletionPolicy must be Delete or Retain"
        )
    return InfrastructureSpec(
        variables=dict(_mapping(terraform.get("variables") or {}, "terraform.variables")),
        deletion_policy=policy,
    )


def _promotion(raw: Any) -> PromotionSpec:
    promotion = _mapping(raw, "spec.promotion")
    approved = promotion.get("approvedRevision")
    return PromotionSpec(
        auto=bool(promotion.get("auto", True)),
        approved_revision=str(approved) if approved else None,
    )


def _checks(raw: Any, where: str) -> tuple[Check, ...]:
    if not isinstance(raw, list):
        raise SpecError("InvalidCheck", f"{where} must be a list")
    if len(raw) > MAX_CHECKS:
        raise SpecError("InvalidCheck", f"{where} may list at most {MAX_CHECKS} checks")
    checks = tuple(_check(_mapping(item, where), where) for item in raw)
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError("InvalidCheck", f"{where}: check names must be unique: {duplicates}")
    return checks


def _check(raw: Mapping[str, Any], where: str) -> Check:
    name = str(raw.get("name") or "")
    _dns_label(name, f"{where}[].name")
    http_raw, job_raw = raw.get("http"), raw.get("job")
    if (http_raw is None) == (job_raw is None):
        raise SpecError("InvalidCheck", f"{where} '{name}': set exactly one of http or job")
    if http_raw is not None:
        return Check(name=name, http=_http(_mapping(http_raw, where), f"{where} '{name}'"))
    job = _mapping(job_raw, where)
    timeout = _check_int(
        job.get("timeoutSeconds", 300),
        f"{where} '{name}': job.timeoutSeconds",
        JOB_TIMEOUT_MIN,
        JOB_TIMEOUT_MAX,
    )
    return Check(
        name=name,
        job=JobCheck(
            template=_mapping(job.get("template"), f"{where} '{name}'.job.template"),
            timeout_seconds=timeout,
        ),
    )


def _http(raw: Mapping[str, Any], where: str) -> HttpCheck:
    """An HTTP check, with every field a release author controls bounded.

    The bounds keep one check's cost (time, bytes read, regex work) small and
    known in advance: checks run on the operator's event loop beside every other
    release. Messages never echo ``url``: it may carry credentials.
    """
    path = str(raw.get("path", "/"))
    if not path.startswith("/"):
        raise SpecError("InvalidCheck", f"{where}: http.path must start with '/'")
    if len(path) > HTTP_PATH_MAX_CHARS or _UNSAFE_CHARS.search(path):
        raise SpecError(
            "InvalidCheck",
            f"{where}: http.path must be at most {HTTP_PATH_MAX_CHARS} characters, "
            "without spaces or control characters",
        )
    body = raw.get("expectBody")
    if body is not None and len(str(body)) > HTTP_EXPECT_BODY_MAX_CHARS:
        raise SpecError(
            "InvalidCheck",
            f"{where}: http.expectBody must be at most {HTTP_EXPECT_BODY_MAX_CHARS} characters",
        )
    regex = raw.get("expectBodyRegex")
    if regex is not None:
        _body_regex(str(regex), where)
    port = raw.get("port")
    url = raw.get("url")
    return HttpCheck(
        path=path,
        port=_check_int(port, f"{where}: http.port", 1, 65535) if port is not None else None,
        url=_http_url(url, where) if url else None,
        expect_status=_check_int(
            raw.get("expectStatus", 200), f"{where}: http.expectStatus", 100, 599
        ),
        expect_body=str(body) if body is not None else None,
        expect_body_regex=str(regex) if regex is not None else None,
        timeout_seconds=_seconds(raw.get("timeoutSeconds", 5), where),
        attempts=_check_int(
            raw.get("attempts", 3), f"{where}: http.attempts", 1, HTTP_ATTEMPTS_MAX
        ),
    )


def _check_int(value: Any, where: str, minimum: int, maximum: int) -> int:
    """``_int`` with the check's reason: every bad check field reads InvalidCheck."""
    try:
        return _int(value, where, minimum=minimum, maximum=maximum)
    except SpecError as err:
        raise SpecError("InvalidCheck", err.message) from None


def _body_regex(pattern: str, where: str) -> None:
    if len(pattern) > HTTP_EXPECT_BODY_REGEX_MAX_CHARS:
        raise SpecError(
            "InvalidCheck",
            f"{where}: http.expectBodyRegex must be at most "
            f"{HTTP_EXPECT_BODY_REGEX_MAX_CHARS} characters",
        )
    try:
        compile_body_regex(pattern)
    except BodyRegexError as err:
        raise SpecError("InvalidCheck", f"{where}: bad expectBodyRegex (RE2): {err}") from None


def _http_url(value: Any, where: str) -> str:
    """A base URL, ``http[s]://host[:port][/path]``; never quoted back (credentials)."""
    url = str(value)
    if len(url) > HTTP_URL_MAX_CHARS or _UNSAFE_CHARS.search(url):
        raise SpecError(
            "InvalidCheck",
            f"{where}: http.url must be at most {HTTP_URL_MAX_CHARS} characters, "
            "without spaces or control characters",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SpecError("InvalidCheck", f"{where}: http.url is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise SpecError("InvalidCheck", f"{where}: http.url scheme must be http or https")
    if "@" in parts.netloc:
        raise SpecError("InvalidCheck", f"{where}: http.url must not carry credentials")
    if not parts.hostname:
        raise SpecError("InvalidCheck", f"{where}: http.url must name a host")
    if port == 0:
        raise SpecError("InvalidCheck", f"{where}: http.url port must be 1..65535")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise SpecError(
            "InvalidCheck", f"{where}: http.url must not have a query or fragment (use path)"
        )
    return url.rstrip("/")


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise SpecError("InvalidCheck", f"{where}: http.timeoutSeconds must be a number")
    if not HTTP_TIMEOUT_MIN <= value <= HTTP_TIMEOUT_MAX:
        raise SpecError(
            "InvalidCheck",
            f"{where}: http.timeoutSeconds must be {HTTP_TIMEOUT_MIN}..{HTTP_TIMEOUT_MAX}",
        )
    return float(value)


def _port_name(value: Any) -> str:
    """A named container port, as Kubernetes accepts it (IANA_SVC_NAME)."""
    name = str(value)
    valid = bool(_IANA_SVC_NAME.match(name)) and "--" not in name and any(c.isalpha() for c in name)
    if not valid:
        raise SpecError(
            "InvalidService",
            "spec.service.targetPort must be a port number or a port name of 1-15 lowercase "
            f"letters, digits and '-', with a letter and no '--' (got {name[:40]!r})",
        )
    return name


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError("InvalidSpec", f"{where} must be an object")
    return value


def _int(value: Any, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError("InvalidSpec", f"{where} must be an integer")
    if minimum is not None and value < minimum:
        raise SpecError("InvalidSpec", f"{where} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise SpecError("InvalidSpec", f"{where} must be at most {maximum}")
    return value


def _dns_label(value: str, where: str) -> None:
    if not value or len(value) > 63 or not _DNS_LABEL.match(value):
        raise SpecError("InvalidName", f"{where} must be a DNS label (got {value!r})")
