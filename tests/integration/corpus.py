"""A corpus of BlueGreenReleases that can't work, each with the outcome it must get.

Every case is one release plus, where the case is about other objects, the
Services or releases that must exist before it. The outcomes:

- ``Refused``: the API server refuses it; its message contains ``message``.
- ``Admitted``: the API server accepts it (a boundary value); not reconciled.
- ``Stalled``: accepted; the operator sets ``Stalled=True`` with ``reason``.
- ``CheckFailed``: accepted and safe: check ``check`` fails with a message
  containing ``message`` and the release ends Failed, traffic untouched.
- ``Completes``: accepted and harmless: the release reaches Ready.

Targets come in at run time (the local HTTP servers' URLs), so the corpus is a
function of them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAIN = "main"
"""Logical namespace keys; the test maps them to real, per-run namespaces."""
COLLIDE_OUTER = "collide-outer"
"""``<run>``: holds release ``x-y``."""
COLLIDE_INNER = "collide-inner"
"""``<run>-x``: holds release ``y``; ``<namespace>-<name>`` is the same for both."""


@dataclass(frozen=True)
class Refused:
    message: str

    def __str__(self) -> str:
        return "Refused"


@dataclass(frozen=True)
class Admitted:
    def __str__(self) -> str:
        return "Admitted"


@dataclass(frozen=True)
class Stalled:
    reason: str

    def __str__(self) -> str:
        return f"Stalled/{self.reason}"


@dataclass(frozen=True)
class CheckFailed:
    check: str
    message: str

    def __str__(self) -> str:
        return "CheckFailed"


@dataclass(frozen=True)
class Completes:
    def __str__(self) -> str:
        return "Completes"


Outcome = Refused | Admitted | Stalled | CheckFailed | Completes


@dataclass(frozen=True)
class Targets:
    """Where checks may point: local servers the test starts."""

    ok: str
    """Base URL of a server on an allowed host answering ``Spacelift App V1 🚀``."""
    bait: str
    """Base URL of a server on a host the operator was not started to allow."""


@dataclass(frozen=True)
class Case:
    id: str
    body: Mapping[str, Any]
    """The whole object (apiVersion, kind, metadata.name, spec); no namespace."""
    expect: Outcome
    namespace: str = MAIN
    after: tuple[str, ...] = ()
    """Cases whose release must own its Services before this one is applied."""
    foreign: tuple[Mapping[str, Any], ...] = ()
    """Objects created with kubectl (no operator labels) before this case."""

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])


# --- builders ------------------------------------------------------------------------


def base_spec(name: str, targets: Targets) -> dict[str, Any]:
    """A release that works: one KWOK pod, one smoke check on an allowed host, no hold."""
    return {
        "replicas": 1,
        "template": {
            "metadata": {"labels": {"app": "corpus"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "spacelift-app:v1",
                        "imagePullPolicy": "Never",
                        "ports": [{"containerPort": 5000}],
                    }
                ]
            },
        },
        "service": {"name": name, "port": 80, "targetPort": 5000},
        "previewService": {"name": f"{name}-preview"},
        "checks": {
            "readiness": {"timeoutSeconds": 120},
            "smoke": [http("home", targets.ok, expectBody="V1")],
        },
        "hold": {"seconds": 0, "checks": []},
    }


def http(name: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "http": {"url": url, "path": "/", "timeoutSeconds": 2, **fields}}


def body(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenRelease",
        "metadata": {"name": name},
        "spec": dict(spec),
    }


Edit = Callable[[dict[str, Any]], None]


def put(path: str, value: Any) -> Edit:
    """Set ``path`` (dots; numbers index lists) in the spec, creating objects on the way."""

    def edit(spec: dict[str, Any]) -> None:
        node: Any = spec
        steps = path.split(".")
        for step in steps[:-1]:
            node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
        last = steps[-1]
        if isinstance(node, list):
            node[int(last)] = copy.deepcopy(value)
        else:
            node[last] = copy.deepcopy(value)

    return edit


def drop(path: str) -> Edit:
    def edit(spec: dict[str, Any]) -> None:
        node: Any = spec
        steps = path.split(".")
        for step in steps[:-1]:
            node = node[int(step)] if isinstance(node, list) else node[step]
        del node[steps[-1]]

    return edit


def foreign_service(name: str, **annotations: str) -> dict[str, Any]:
    """A Service made by someone else: no operator labels, its own selector."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"team": "other"}, "annotations": annotations},
        "spec": {"selector": {"app": "someone-else"}, "ports": [{"port": 80}]},
    }


# --- the corpus -----------------------------------------------------------------------


class Builder:
    """Collects cases; each starts from a release that works and applies edits."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self.cases: list[Case] = []

    def case(
        self,
        id: str,
        expect: Outcome,
        *edits: Edit,
        name: str | None = None,
        namespace: str = MAIN,
        after: tuple[str, ...] = (),
        foreign: tuple[Mapping[str, Any], ...] = (),
    ) -> None:
        release_name = name or id
        spec = base_spec(release_name if len(release_name) <= 55 else "svc", self.targets)
        for edit in edits:
            edit(spec)
        self.cases.append(
            Case(id, body(release_name, spec), expect, namespace, after, foreign=foreign)
        )

    def smoke(self, **fields: Any) -> Edit:
        """Replace the smoke checks by one HTTP check on the allowed host, with ``fields``."""
        url = fields.pop("url", self.targets.ok)
        return put("checks.smoke", [http("home", url, **fields)])


def build(targets: Targets) -> list[Case]:
    """Every case, in the order they are applied."""
    b = Builder(targets)
    for section in (
        _names,
        _replicas,
        _template,
        _services,
        _ownership,
        _variables,
        _check_fields,
        _operator_judged,
        _safe_failures,
    ):
        section(b)
    return b.cases


def _names(b: Builder) -> None:
    """Release names: they become label values."""
    name_message = "metadata.name must be at most 63 characters"
    b.case("name-64-chars", Refused(name_message), name="n" * 64)
    b.case("name-253-chars", Refused(name_message), name="n" * 253)
    b.case("name-64-with-dots", Refused(name_message), name=("a." * 32)[:63] + "b")
    b.case("name-63-chars", Completes(), name="n" * 63)
    b.case(
        "name-with-dots",
        Completes(),
        put("service.name", "shop-v2"),
        put("previewService.name", "shop-v2-preview"),
        name="shop.v2",
    )


def _replicas(b: Builder) -> None:
    """Replica counts."""
    b.case(
        "replicas-0",
        Refused("spec.replicas in body should be greater than or equal to 1"),
        put("replicas", 0),
    )
    b.case(
        "replicas-1001",
        Refused("spec.replicas in body should be less than or equal to 1000"),
        put("replicas", 1001),
    )
    b.case("replicas-1000", Admitted(), put("replicas", 1000))
    b.case(
        "replicas-string",
        Refused("spec.replicas in body must be of type integer"),
        put("replicas", "3"),
    )
    b.case(
        "replicas-float",
        Refused("spec.replicas in body must be of type int32"),
        put("replicas", 1.5),
    )
    b.case("replicas-2-to-the-40", Refused("less than or equal to 1000"), put("replicas", 2**40))


def _template(b: Builder) -> None:
    """The pod template: containers, reserved and malformed labels."""
    containers = "spec.template.spec.containers must list at least one container"
    b.case("template-no-containers", Refused(containers), put("template.spec.containers", []))
    b.case("template-no-pod-spec", Refused(containers), drop("template.spec"))
    b.case(
        "template-container-not-object",
        Refused("must be of type object"),
        put("template.spec.containers", ["app"]),
    )
    b.case(
        "template-33-containers",
        Refused("must have at most 32 items"),
        put(
            "template.spec.containers",
            [{"name": f"c{i}", "image": "spacelift-app:v1"} for i in range(33)],
        ),
    )
    reserved = "must not use keys starting with bluegreen.dev/ nor app.kubernetes.io/managed-by"
    for key in (
        "bluegreen.dev/revision",
        "bluegreen.dev/release",
        "bluegreen.dev/anything",
        "app.kubernetes.io/managed-by",
    ):
        slug = key.replace(".", "-").replace("/", "-")
        b.case(f"label-{slug}", Refused(reserved), put("template.metadata.labels", {key: "x"}))
    b.case(
        "label-neighbour-of-reserved",
        Completes(),
        put(
            "template.metadata.labels",
            {"app.kubernetes.io/name": "corpus", "bluegreen.dev.example/x": "ok"},
        ),
    )
    b.case(
        "label-value-64-chars",
        Refused("Too long"),
        put("template.metadata.labels", {"app": "v" * 64}),
    )
    b.case(
        "label-value-unicode",
        Refused("spec.template.metadata.labels.app in body should match"),
        put("template.metadata.labels", {"app": "shöp"}),
    )
    b.case(
        "label-value-not-a-string",
        Refused("must be of type string"),
        put("template.metadata.labels", {"app": 5}),
    )
    b.case(
        "label-key-invalid",
        Refused("spec.template.metadata.labels keys must be valid"),
        put("template.metadata.labels", {"bad key!": "x"}),
    )
    b.case(
        "labels-65",
        Refused("must have at most 64 items"),
        put("template.metadata.labels", {f"k{i}": "v" for i in range(65)}),
    )
    b.case(
        "annotations-65",
        Refused("must have at most 64 items"),
        put("template.metadata.annotations", {f"k{i}": "v" for i in range(65)}),
    )
    b.case(
        "annotation-value-huge",
        Refused("Too long"),
        put("template.metadata.annotations", {"big": "x" * 5000}),
    )
    b.case(
        "template-container-name-invalid",
        Stalled("InvalidTemplate"),
        put("template.spec.containers.0.name", "App_1"),
    )
    b.case(
        "template-container-without-image",
        Stalled("InvalidTemplate"),
        drop("template.spec.containers.0.image"),
    )
    b.case(
        "template-restart-never",
        Stalled("InvalidTemplate"),
        put("template.spec.restartPolicy", "Never"),
    )
    b.case(
        "template-huge-env",
        Completes(),
        put("template.spec.containers.0.env", [{"name": "BIG", "value": "x" * 100_000}]),
    )
    b.case(
        "template-unicode-env",
        Completes(),
        put("template.spec.containers.0.env", [{"name": "GREETING", "value": "héllo 🚀 世界"}]),
    )


def _services(b: Builder) -> None:
    """Service names, types and ports."""
    b.case(
        "preview-equals-service",
        Refused("spec.previewService.name must differ from spec.service.name"),
        put("previewService.name", "preview-equals-service"),
    )
    b.case(
        "service-name-upper",
        Refused("spec.service.name in body should match"),
        put("service.name", "Shop"),
    )
    b.case(
        "service-name-leading-digit",
        Refused("spec.service.name in body should match"),
        put("service.name", "1shop"),
    )
    b.case(
        "service-name-unicode",
        Refused("spec.service.name in body should match"),
        put("service.name", "shöp"),
    )
    b.case("service-name-64", Refused("Too long"), put("service.name", "s" * 64))
    b.case(
        "service-name-empty",
        Refused("spec.service.name in body should match"),
        put("service.name", ""),
    )
    b.case(
        "preview-name-dot",
        Refused("spec.previewService.name in body should match"),
        put("previewService.name", "shop.preview"),
    )
    b.case("preview-name-64", Refused("Too long"), put("previewService.name", "p" * 64))
    b.case(
        "default-preview-too-long",
        Refused("spec.service.name must be at most 55 characters unless"),
        put("service.name", "s" * 56),
        drop("previewService"),
    )
    b.case(
        "service-not-an-object",
        Refused("spec.service in body must be of type object"),
        put("service", "shop"),
    )
    b.case(
        "service-type-external-name",
        Refused('Unsupported value: "ExternalName"'),
        put("service.type", "ExternalName"),
    )
    b.case(
        "service-port-0",
        Refused("spec.service.port in body should be greater than or equal"),
        put("service.port", 0),
    )
    b.case(
        "service-port-65536",
        Refused("spec.service.port in body should be less than or equal"),
        put("service.port", 65536),
    )
    target = "spec.service.targetPort must be a port number (1-65535) or a port name"
    for slug, value in (
        ("0", 0),
        ("65536", 65536),
        ("upper", "HTTP"),
        ("double-hyphen", "a--b"),
        ("digits-only", "8080"),
        ("16-chars", "abcdefghijklmnop"),
        ("empty", ""),
        ("unicode", "wéb"),
        ("negative", -1),
    ):
        b.case(f"target-port-{slug}", Refused(target), put("service.targetPort", value))
    b.case("target-port-name", Completes(), put("service.targetPort", "web-http"))


def _ownership(b: Builder) -> None:
    """Services the release does not own, and releases that must not share state."""
    b.case(
        "foreign-stable",
        Stalled("ServiceNotOwned"),
        put("service.name", "foreign-web"),
        foreign=(foreign_service("foreign-web"),),
    )
    b.case(
        "foreign-preview",
        Stalled("ServiceNotOwned"),
        put("previewService.name", "foreign-try"),
        foreign=(foreign_service("foreign-try"),),
    )
    b.case(
        "foreign-adopt-for-other",
        Stalled("ServiceNotOwned"),
        put("service.name", "foreign-adopt-other"),
        foreign=(foreign_service("foreign-adopt-other", **{"bluegreen.dev/adopt": "someone"}),),
    )
    b.case(
        "foreign-adopt-opt-in",
        Completes(),
        put("service.name", "foreign-adopt-mine"),
        foreign=(
            foreign_service(
                "foreign-adopt-mine", **{"bluegreen.dev/adopt": "foreign-adopt-opt-in"}
            ),
        ),
    )
    b.case("owner", Completes())
    b.case(
        "shares-stable", Stalled("ServiceNotOwned"), put("service.name", "owner"), after=("owner",)
    )
    b.case(
        "preview-is-others-stable",
        Stalled("ServiceNotOwned"),
        put("previewService.name", "owner"),
        after=("owner",),
    )
    b.case(
        "stable-is-others-preview",
        Stalled("ServiceNotOwned"),
        put("service.name", "owner-preview"),
        after=("owner",),
    )
    b.case(
        "collide-x-y", Completes(), put("service.name", "web"), name="x-y", namespace=COLLIDE_OUTER
    )
    b.case("collide-y", Completes(), put("service.name", "web"), name="y", namespace=COLLIDE_INNER)


def _variables(b: Builder) -> None:
    """Terraform variables the operator derives."""
    variables = "spec.infrastructure.terraform.variables may not set"
    # Each with the value its module variable would naturally take.
    for var, value in (
        ("release_name", "shop"),
        ("namespace", "kube-system"),
        ("create_namespace", True),
        ("service_name", "kubernetes"),
        ("preview_service_name", "shop-preview"),
        ("kubeconfig_path", "/etc/kubernetes/admin.conf"),
        ("service_type", "LoadBalancer"),
        ("service_port", 443),
        ("target_port", "http"),
        ("labels", {"app.kubernetes.io/managed-by": "bluegreen-operator"}),
    ):
        b.case(
            f"variable-{var.replace('_', '-')}",
            Refused(variables),
            put("infrastructure.terraform.variables", {var: value, "extra": "ok"}),
        )
    b.case(
        "variable-labels-as-string",
        Refused("must be of type object"),
        put("infrastructure.terraform.variables", {"labels": "team=web"}),
    )
    b.case(
        "variables-32",
        Admitted(),
        put("infrastructure.terraform.variables", {f"v{i}": {"n": i} for i in range(32)}),
    )
    b.case(
        "variables-33",
        Refused("must have at most 32 items"),
        put("infrastructure.terraform.variables", {f"v{i}": i for i in range(33)}),
    )
    b.case(
        "variables-not-an-object",
        Refused("must be of type object"),
        put("infrastructure.terraform.variables", ["release_name"]),
    )
    b.case(
        "deletion-policy-orphan",
        Refused('Unsupported value: "Orphan"'),
        put("infrastructure.deletionPolicy", "Orphan"),
    )


def _check_fields(b: Builder) -> None:
    """Check fields the schema bounds."""
    b.case(
        "http-timeout-0",
        Refused("timeoutSeconds in body should be greater than or equal to 1"),
        b.smoke(timeoutSeconds=0),
    )
    b.case(
        "http-timeout-61",
        Refused("timeoutSeconds in body should be less than or equal to 60"),
        b.smoke(timeoutSeconds=61),
    )
    b.case(
        "http-timeout-string",
        Refused("timeoutSeconds in body must be of type number"),
        b.smoke(timeoutSeconds="5s"),
    )
    b.case(
        "http-attempts-0",
        Refused("attempts in body should be greater than or equal to 1"),
        b.smoke(attempts=0),
    )
    b.case(
        "http-attempts-11",
        Refused("attempts in body should be less than or equal to 10"),
        b.smoke(attempts=11),
    )
    b.case("expect-body-1025", Refused("Too long"), b.smoke(expectBody="b" * 1025))
    b.case("expect-regex-257", Refused("Too long"), b.smoke(expectBodyRegex="r" * 257))
    b.case("path-1025", Refused("Too long"), b.smoke(path="/" + "p" * 1024))
    b.case("path-without-slash", Refused("http.path must start with '/'"), b.smoke(path="healthz"))
    b.case(
        "path-with-crlf", Refused("http.path must start with '/'"), b.smoke(path="/\r\nHost: evil")
    )
    b.case("path-with-space", Refused("http.path must start with '/'"), b.smoke(path="/a b"))
    url = "http.url must start with http:// or https://"
    b.case("url-ftp", Refused(url), b.smoke(url="ftp://127.0.0.1/"))
    b.case("url-javascript", Refused(url), b.smoke(url="javascript:alert(1)"))
    b.case("url-leading-space", Refused(url), b.smoke(url=" " + b.targets.ok))
    b.case("url-2049", Refused("Too long"), b.smoke(url="http://h/" + "u" * 2040))
    b.case("url-newline", Refused(url), b.smoke(url=b.targets.ok + "\n"))
    b.case("expect-status-600", Refused("less than or equal to 599"), b.smoke(expectStatus=600))
    b.case(
        "job-timeout-3601",
        Refused("less than or equal to 3600"),
        put("checks.smoke", [{"name": "e2e", "job": {"template": {}, "timeoutSeconds": 3601}}]),
    )
    b.case(
        "job-without-template",
        Refused("job.template: Required value"),
        put("checks.smoke", [{"name": "e2e", "job": {"timeoutSeconds": 5}}]),
    )
    b.case(
        "smoke-17-checks",
        Refused("must have at most 16 items"),
        put("checks.smoke", [http(f"c{i}", b.targets.ok) for i in range(17)]),
    )
    b.case(
        "hold-17-checks",
        Refused("must have at most 16 items"),
        put("hold.checks", [http(f"c{i}", b.targets.ok) for i in range(17)]),
    )
    b.case(
        "smoke-16-checks",
        Admitted(),
        put("checks.smoke", [http(f"c{i}", b.targets.ok) for i in range(16)]),
    )
    b.case(
        "smoke-duplicate-names",
        Refused("check names must be unique within spec.checks.smoke"),
        put("checks.smoke", [http("home", b.targets.ok), http("home", b.targets.ok)]),
    )
    b.case(
        "hold-duplicate-names",
        Refused("check names must be unique within spec.hold.checks"),
        put("hold.checks", [http("live", b.targets.ok), http("live", b.targets.ok)]),
    )
    b.case(
        "check-name-upper",
        Refused("name in body should match"),
        put("checks.smoke", [http("Home", b.targets.ok)]),
    )
    b.case(
        "check-name-64", Refused("Too long"), put("checks.smoke", [http("c" * 64, b.targets.ok)])
    )
    b.case(
        "check-http-and-job",
        Refused("set exactly one of http, job or metric"),
        put("checks.smoke", [{**http("home", b.targets.ok), "job": {"template": {}}}]),
    )
    b.case(
        "check-neither",
        Refused("set exactly one of http, job or metric"),
        put("checks.smoke", [{"name": "home"}]),
    )
    b.case(
        "smoke-not-a-list",
        Refused("must be of type array"),
        put("checks.smoke", "home"),
    )
    b.case(
        "readiness-0",
        Refused("greater than or equal to 1"),
        put("checks.readiness.timeoutSeconds", 0),
    )
    b.case(
        "readiness-86401",
        Refused("less than or equal to 86400"),
        put("checks.readiness.timeoutSeconds", 86401),
    )
    b.case("hold-over-7-days", Refused("less than or equal to 604800"), put("hold.seconds", 604801))
    b.case("hold-7-days", Admitted(), put("hold.seconds", 604800))
    b.case("hold-negative", Refused("greater than or equal to 0"), put("hold.seconds", -1))
    b.case(
        "hold-interval-0",
        Refused("greater than or equal to 1"),
        put("hold.checkIntervalSeconds", 0),
    )
    b.case(
        "hold-interval-86401",
        Refused("less than or equal to 86400"),
        put("hold.checkIntervalSeconds", 86401),
    )
    b.case(
        "approved-revision-latest",
        Refused("approvedRevision in body should match"),
        put("promotion.approvedRevision", "latest"),
    )
    b.case(
        "promotion-auto-string", Refused("must be of type boolean"), put("promotion.auto", "yes")
    )
    b.case("no-service", Refused("spec.service: Required value"), drop("service"))
    b.case("no-template", Refused("spec.template: Required value"), drop("template"))


def _operator_judged(b: Builder) -> None:
    """Checks the API server can't judge: parse_spec must."""
    b.case("regex-backreference", Stalled("InvalidCheck"), b.smoke(expectBodyRegex=r"(V)\1"))
    b.case("regex-lookahead", Stalled("InvalidCheck"), b.smoke(expectBodyRegex="(?=V1)V"))
    b.case("regex-unbalanced", Stalled("InvalidCheck"), b.smoke(expectBodyRegex="(["))
    b.case(
        "url-with-credentials",
        Stalled("InvalidCheck"),
        b.smoke(url=b.targets.ok.replace("http://", "http://user:secret@")),
    )
    b.case("url-with-query", Stalled("InvalidCheck"), b.smoke(url=b.targets.ok + "/?x=1"))
    b.case("url-port-0", Stalled("InvalidCheck"), b.smoke(url="http://127.0.0.1:0"))
    b.case(
        "job-template-invalid",
        Stalled("InvalidCheck"),
        put("checks.smoke", [{"name": "e2e", "job": {"template": {"template": {}}}}]),
    )


def _safe_failures(b: Builder) -> None:
    """Accepted and safe: the check fails with a clear message, traffic is untouched."""
    b.case(
        "regex-catastrophic",
        CheckFailed("home", "does not match"),
        b.smoke(path="/aaaa", expectBodyRegex="(a+)+$", attempts=1),
    )
    b.case(
        "regex-catastrophic-nested",
        CheckFailed("home", "does not match"),
        b.smoke(path="/aaaa", expectBodyRegex="^(a|aa|a?)+$", attempts=1),
    )
    b.case(
        "url-metadata-service",
        CheckFailed("home", "not allowed"),
        b.smoke(url="http://169.254.169.254", path="/latest/meta-data/", attempts=1),
    )
    b.case(
        "url-bait-host", CheckFailed("home", "not allowed"), b.smoke(url=b.targets.bait, attempts=1)
    )
    b.case(
        "url-bait-host-ipv6-mapped",
        CheckFailed("home", "not allowed"),
        b.smoke(url=b.targets.bait.replace("127.0.0.2", "[::ffff:127.0.0.2]"), attempts=1),
    )
    b.case(
        "redirect-to-metadata",
        CheckFailed("home", "status 302"),
        b.smoke(path="/redirect", attempts=1),
    )
    b.case("status-500", CheckFailed("home", "status 500"), b.smoke(path="/status/500", attempts=1))
    b.case(
        "huge-body",
        CheckFailed("home", "body lacks"),
        b.smoke(path="/huge", expectBody="never there", attempts=1),
    )
    b.case(
        "slow-server",
        CheckFailed("home", "timed out"),
        b.smoke(path="/slow", timeoutSeconds=1, attempts=1),
    )
    b.case(
        "expect-unicode-absent",
        CheckFailed("home", "body lacks"),
        b.smoke(expectBody="世界", attempts=1),
    )
    b.case("expect-unicode-present", Completes(), b.smoke(expectBody="🚀"))
    b.case("path-unicode", Completes(), b.smoke(path="/ünïcode/🚀"))
