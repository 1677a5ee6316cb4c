"""The BlueGreenRelease CRD on a real kube-apiserver: defaults, CEL rules, status, columns.

Every refusal is the API server's own, with the message the CRD declares; the
operator never sees such a spec.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bluegreen.core.conditions import ORDER
from bluegreen.core.spec import (
    DEFAULT_HOLD_CHECK_INTERVAL,
    DEFAULT_HOLD_SECONDS,
    DEFAULT_READINESS_TIMEOUT,
    MAX_HOLD_SECONDS,
    parse_spec,
)
from bluegreen.core.status import (
    ActiveRevision,
    Candidate,
    CheckStatus,
    Condition,
    HistoryEntry,
    InfrastructureStatus,
    LastAction,
    Phase,
    Previous,
    ReleaseStatus,
)

pytestmark = pytest.mark.cluster

GROUP, VERSION, PLURAL = "bluegreen.dev", "v1alpha1", "bluegreenreleases"
STAMP = "2026-11-26T08:00:00Z"


@pytest.fixture
def objects(api_client: Any, crd: dict[str, Any]) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def release_ns(namespace: str, crd: dict[str, Any]) -> Iterator[str]:
    """A fresh namespace, with the CRD installed first."""
    yield namespace


def release(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "template": {"spec": {"containers": [{"name": "app", "image": "shop:v1"}]}},
        "service": {"name": "shop"},
    }
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "BlueGreenRelease",
        "metadata": {"name": name},
        "spec": body,
    }


def http_check(name: str, **http: Any) -> dict[str, Any]:
    return {"name": name, "http": {"path": "/", **http}}


HOOK: dict[str, Any] = {
    "name": "expand",
    "template": {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}},
}


def job_check(name: str) -> dict[str, Any]:
    pod = {"spec": {"containers": [{"name": "t", "image": "curl:1"}]}}
    return {"name": name, "job": {"template": {"template": pod}}}


def as_dict(value: object) -> dict[str, Any]:
    """The client returns plain objects; custom objects are JSON objects."""
    assert isinstance(value, dict), value
    return value


def server_message(err: ApiException) -> str:
    return str(json.loads(err.body or "{}")["message"])


def create(objects: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    return as_dict(objects.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body))


def refusal(objects: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> str:
    """Creates ``body``, expects the API server to refuse it, returns its message."""
    with pytest.raises(ApiException) as caught:
        create(objects, ns, body)
    assert caught.value.status == 422, caught.value.body
    message = server_message(caught.value)
    assert isinstance(message, str)
    return message


# --- installation ----------------------------------------------------------------------


def test_crd_is_established_with_its_names(crd: dict[str, Any]) -> None:
    accepted = crd["status"]["acceptedNames"]
    assert accepted["kind"] == "BlueGreenRelease"
    assert accepted["plural"] == PLURAL
    assert accepted["shortNames"] == ["bgr"]
    assert accepted["categories"] == ["bluegreen"]
    assert crd["status"]["storedVersions"] == [VERSION]


# --- defaults ----------------------------------------------------------------------------


def test_a_minimal_release_is_accepted_and_defaulted(
    objects: client.CustomObjectsApi, release_ns: str
) -> None:
    sent = release(
        "shop",
        checks={"smoke": [http_check("home", expectBody="V1"), job_check("e2e")]},
        hold={"checks": [http_check("live")]},
    )
    stored = create(objects, release_ns, copy.deepcopy(sent))["spec"]

    assert stored["replicas"] == 1
    assert stored["service"] == {
        "name": "shop",
        "type": "ClusterIP",
        "port": 80,
        "targetPort": 5000,
    }
    assert stored["infrastructure"] == {"deletionPolicy": "Delete"}
    assert stored["checks"]["readiness"] == {"timeoutSeconds": DEFAULT_READINESS_TIMEOUT}
    assert stored["promotion"] == {"auto": True}
    assert stored["hold"]["seconds"] == DEFAULT_HOLD_SECONDS
    assert stored["hold"]["checkIntervalSeconds"] == DEFAULT_HOLD_CHECK_INTERVAL
    home, e2e = stored["checks"]["smoke"]
    assert home["http"] == {
        "path": "/",
        "expectBody": "V1",
        "expectStatus": 200,
        "timeoutSeconds": 5,
        "attempts": 3,
    }
    assert e2e["job"]["timeoutSeconds"] == 300
    assert stored["hold"]["checks"][0]["http"]["attempts"] == 3
    # What the server filled in means what the model assumes when a field is absent.
    assert parse_spec(stored) == parse_spec(sent["spec"])


def test_a_release_that_sets_everything_is_stored_as_sent(
    objects: client.CustomObjectsApi, release_ns: str
) -> None:
    spec = {
        "replicas": 3,
        "template": {
            "metadata": {"labels": {"app": "shop"}, "annotations": {"team": "web"}},
            "spec": {
                "containers": [
                    {"name": "app", "image": "shop:v2", "ports": [{"containerPort": 80}]}
                ],
                "terminationGracePeriodSeconds": 5,
            },
        },
        "service": {"name": "shop", "type": "NodePort", "port": 8080, "targetPort": "http"},
        "previewService": {"name": "shop-try"},
        "infrastructure": {
            "terraform": {"variables": {"extra_labels": {"team": "web"}, "replicas_hint": 3}},
            "deletionPolicy": "Retain",
        },
        "checks": {
            "readiness": {"timeoutSeconds": 120},
            "smoke": [
                {
                    "name": "home",
                    "http": {
                        "path": "/healthz",
                        "port": 8080,
                        "url": "http://shop-try.shop.svc:8080",
                        "expectStatus": 204,
                        "expectBody": "ok",
                        "expectBodyRegex": "o+k",
                        "timeoutSeconds": 2.5,
                        "attempts": 5,
                    },
                },
                {**job_check("e2e"), "job": {**job_check("e2e")["job"], "timeoutSeconds": 60}},
            ],
        },
        "promotion": {"auto": False, "approvedRevision": "5d8f9c2a1b"},
        "hold": {
            "seconds": MAX_HOLD_SECONDS,
            "checkIntervalSeconds": 10,
            "checks": [
                {
                    "name": "errors",
                    "metric": {
                        "query": 'sum(rate(x{revision="{{revision}}"}[{{window}}]))',
                        "windowSeconds": 30,
                        "max": 0.05,
                        "min": 0,
                        "maxIncrease": 0.01,
                        "maxIncreasePercent": 20.5,
                        "consecutiveFailures": 2,
                        "intervalSeconds": 5,
                        "onInconclusive": "Pass",
                        "inconclusiveTimeoutSeconds": 60,
                        "timeoutSeconds": 5,
                    },
                }
            ],
        },
        "hooks": {
            "preSwitch": [{**HOOK, "timeoutSeconds": 900, "retries": 1}],
            "postSwitch": [],
            "postCleanup": [{**HOOK, "name": "contract", "timeoutSeconds": 60, "retries": 0}],
        },
    }
    stored = create(objects, release_ns, release("full", **spec))["spec"]
    assert stored == spec
    parse_spec(stored)


# --- refusals ----------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        steps = path.split(".")
        for step in steps[:-1]:
            node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
        node[steps[-1]] = value

    return mutate


TWO_CHECKS = [http_check("home"), job_check("e2e")]


def message_path(path: str) -> str:
    """``checks.smoke.0.http`` as the API server writes it: ``checks.smoke[0].http``."""
    return re.sub(r"[.]([0-9]+)", r"[\1]", path)


# Each reserved module variable, with the value it would naturally take.
RESERVED_VARIABLE_SAMPLES: dict[str, Any] = {
    "release_name": "shop",
    "namespace": "kube-system",
    "create_namespace": True,
    "service_name": "kubernetes",
    "preview_service_name": "shop-preview",
    "kubeconfig_path": "/etc/kubernetes/admin.conf",
    "service_type": "LoadBalancer",
    "service_port": 443,
    "target_port": "http",
    "labels": {"team": "web"},
}

# (id, spec change, a fragment of the API server's message)
INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "replicas-0",
        _set("replicas", 0),
        "spec.replicas in body should be greater than or equal to 1",
    ),
    (
        "hold-seconds-over-7-days",
        _set("hold.seconds", MAX_HOLD_SECONDS + 1),
        f"spec.hold.seconds in body should be less than or equal to {MAX_HOLD_SECONDS}",
    ),
    (
        "hold-seconds-negative",
        _set("hold.seconds", -1),
        "spec.hold.seconds in body should be greater than or equal to 0",
    ),
    (
        "duplicate-smoke-check-names",
        _set("checks.smoke", [http_check("home"), {**job_check("e2e"), "name": "home"}]),
        "check names must be unique within spec.checks.smoke",
    ),
    (
        "duplicate-hold-check-names",
        _set("hold.checks", [http_check("live"), http_check("live", path="/x")]),
        "check names must be unique within spec.hold.checks",
    ),
    (
        "http-path-without-slash",
        _set("checks.smoke", [http_check("home", path="healthz")]),
        "spec.checks.smoke[0].http.path: Invalid value: \"healthz\": http.path must start with '/'",
    ),
    (
        "preview-name-equals-service-name",
        _set("previewService", {"name": "shop"}),
        "spec.previewService.name must differ from spec.service.name",
    ),
    (
        "check-with-http-and-job",
        _set("checks.smoke", [{**http_check("home"), "job": job_check("x")["job"]}]),
        "spec.checks.smoke[0]: Invalid value: set exactly one of http, job or metric",
    ),
    (
        "check-with-neither-http-nor-job",
        _set("hold.checks", [{"name": "live"}]),
        "spec.hold.checks[0]: Invalid value: set exactly one of http, job or metric",
    ),
    (
        "metric-check-without-condition",
        _set("hold.checks", [{"name": "errors", "metric": {"query": "up"}}]),
        "spec.hold.checks[0].metric: Invalid value: metric needs a condition",
    ),
    (
        "metric-check-bad-policy",
        _set(
            "hold.checks",
            [{"name": "errors", "metric": {"query": "up", "max": 1, "onInconclusive": "Maybe"}}],
        ),
        'spec.hold.checks[0].metric.onInconclusive: Unsupported value: "Maybe"',
    ),
    (
        "hooks-with-the-same-name",
        _set("hooks", {"preSwitch": [HOOK, HOOK]}),
        "hook names must be unique within spec.hooks.preSwitch",
    ),
    (
        "bad-service-type",
        _set("service.type", "External"),
        'spec.service.type: Unsupported value: "External"',
    ),
    (
        "empty-containers",
        _set("template.spec.containers", []),
        "spec.template.spec.containers must list at least one container",
    ),
    (
        "no-pod-spec",
        _set("template", {"metadata": {"labels": {"app": "shop"}}}),
        "spec.template.spec.containers must list at least one container",
    ),
    (
        "template-sets-the-revision-label",
        _set("template.metadata", {"labels": {"bluegreen.dev/revision": "abc"}}),
        "spec.template.metadata.labels must not use keys starting with bluegreen.dev/",
    ),
    (
        "service-name-not-a-dns-label",
        _set("service.name", "Shop_1"),
        "spec.service.name in body should match",
    ),
    (
        "default-preview-name-too-long",
        _set("service.name", "s" * 56),
        "spec.service.name must be at most 55 characters unless spec.previewService.name",
    ),
    (
        "target-port-0",
        _set("service.targetPort", 0),
        "spec.service.targetPort must be a port number (1-65535) or a port name",
    ),
    (
        "expect-status-out-of-range",
        _set("checks.smoke", [http_check("home", expectStatus=600)]),
        "spec.checks.smoke[0].http.expectStatus in body should be less than or equal to 599",
    ),
    (
        "attempts-0",
        _set("checks.smoke", [http_check("home", attempts=0)]),
        "spec.checks.smoke[0].http.attempts in body should be greater than or equal to 1",
    ),
    (
        "http-timeout-0",
        _set("checks.smoke", [http_check("home", timeoutSeconds=0)]),
        "spec.checks.smoke[0].http.timeoutSeconds in body should be greater than or equal to 1",
    ),
    (
        "url-without-scheme",
        _set("checks.smoke", [http_check("home", url="shop:80")]),
        "http.url must start with http:// or https://",
    ),
    (
        "job-without-template",
        _set("checks.smoke", [{"name": "e2e", "job": {"timeoutSeconds": 5}}]),
        "spec.checks.smoke[0].job.template: Required value",
    ),
    (
        "bad-deletion-policy",
        _set("infrastructure.deletionPolicy", "Orphan"),
        'spec.infrastructure.deletionPolicy: Unsupported value: "Orphan"',
    ),
    (
        "approved-revision-not-a-revision",
        _set("promotion.approvedRevision", "latest"),
        "spec.promotion.approvedRevision in body should match",
    ),
    (
        "no-service",
        lambda spec: spec.pop("service"),
        "spec.service: Required value",
    ),
    *[
        (
            f"template-label-{key}",
            _set("template.metadata", {"labels": {key: "x"}}),
            "spec.template.metadata.labels must not use keys starting with bluegreen.dev/ nor "
            "app.kubernetes.io/managed-by: the operator's selectors depend on them",
        )
        for key in ("bluegreen.dev/release", "bluegreen.dev/x", "app.kubernetes.io/managed-by")
    ],
    (
        "template-label-key-invalid",
        _set("template.metadata", {"labels": {"a b": "x"}}),
        "spec.template.metadata.labels keys must be valid label keys",
    ),
    (
        "template-label-value-invalid",
        _set("template.metadata", {"labels": {"app": "-x-"}}),
        "spec.template.metadata.labels.app in body should match",
    ),
    (
        "template-label-value-64",
        _set("template.metadata", {"labels": {"app": "x" * 64}}),
        "spec.template.metadata.labels.app: Too long",
    ),
    *[
        (
            f"reserved-variable-{name}",
            _set("infrastructure.terraform.variables", {name: value}),
            "spec.infrastructure.terraform.variables may not set release_name, namespace, "
            "create_namespace, service_name, preview_service_name, kubeconfig_path, "
            "service_type, service_port, target_port nor labels",
        )
        for name, value in RESERVED_VARIABLE_SAMPLES.items()
    ],
    (
        "variables-33",
        _set("infrastructure.terraform.variables", {f"v{i}": i for i in range(33)}),
        "spec.infrastructure.terraform.variables: Too many: 33: must have at most 32 items",
    ),
    *[
        (
            f"target-port-{value}",
            _set("service.targetPort", value),
            "spec.service.targetPort must be a port number (1-65535) or a port name",
        )
        for value in ("HTTP", "a--b", "8080", "-web", "web-", "abcdefghijklmnop", "", 65536)
    ],
    *[
        (
            f"{path.replace('.', '-')}-{value}",
            _set(path, value),
            f"spec.{message_path(path)} in body should be {relation} {bound}",
        )
        for path, value, relation, bound in (
            ("replicas", 1001, "less than or equal to", 1000),
            ("checks.readiness.timeoutSeconds", 86401, "less than or equal to", 86400),
            ("hold.checkIntervalSeconds", 86401, "less than or equal to", 86400),
            ("checks.smoke.0.http.timeoutSeconds", 61, "less than or equal to", 60),
            ("checks.smoke.0.http.timeoutSeconds", 0.5, "greater than or equal to", 1),
            ("checks.smoke.0.http.attempts", 11, "less than or equal to", 10),
            ("checks.smoke.1.job.timeoutSeconds", 3601, "less than or equal to", 3600),
        )
    ],
    *[
        (
            f"{field}-too-long",
            _set(f"checks.smoke.0.http.{field}", value),
            f"spec.checks.smoke[0].http.{field}: Too long: may not be more than {limit}",
        )
        for field, value, limit in (
            ("expectBody", "b" * 1025, 1024),
            ("expectBodyRegex", "r" * 257, 256),
            ("path", "/" + "p" * 1024, 1024),
            ("url", "http://h/" + "u" * 2040, 2048),
        )
    ],
    *[
        (
            f"path-{slug}",
            _set("checks.smoke.0.http.path", value),
            "http.path must start with '/' and hold no spaces nor control characters",
        )
        for slug, value in (("space", "/a b"), ("crlf", "/\r\nX: y"), ("tab", "/\t"))
    ],
    *[
        (
            f"url-{slug}",
            _set("checks.smoke.0.http.url", value),
            "http.url must start with http:// or https:// and hold no spaces nor control",
        )
        for slug, value in (
            ("ftp", "ftp://h/"),
            ("no-host", "http://"),
            ("space", "http://h/a b"),
            ("newline", "http://h\n"),
            ("upper-scheme", "HTTP://h"),
        )
    ],
    (
        "17-smoke-checks",
        _set("checks.smoke", [http_check(f"c{i}") for i in range(17)]),
        "spec.checks.smoke: Too many: 17: must have at most 16 items",
    ),
    (
        "17-hold-checks",
        _set("hold.checks", [http_check(f"c{i}") for i in range(17)]),
        "spec.hold.checks: Too many: 17: must have at most 16 items",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(m, e, id=i) for i, m, e in INVALID],
)
def test_an_invalid_release_is_refused_with_the_crds_message(
    objects: client.CustomObjectsApi,
    release_ns: str,
    mutate: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    body = release(f"bad-{uuid.uuid4().hex[:6]}", checks={"smoke": copy.deepcopy(TWO_CHECKS)})
    mutate(body["spec"])
    message = refusal(objects, release_ns, body)
    assert expected in message
    listed = as_dict(objects.list_namespaced_custom_object(GROUP, VERSION, release_ns, PLURAL))
    assert not listed["items"]


def test_the_same_check_name_may_appear_in_smoke_and_hold(
    objects: client.CustomObjectsApi, release_ns: str
) -> None:
    body = release(
        "shop", checks={"smoke": [http_check("home")]}, hold={"checks": [http_check("home")]}
    )
    create(objects, release_ns, body)


@pytest.mark.parametrize("length", [64, 253])
def test_a_release_name_longer_than_a_label_value_is_refused(
    objects: client.CustomObjectsApi, release_ns: str, length: int
) -> None:
    message = refusal(objects, release_ns, release("n" * length))
    assert (
        "metadata.name must be at most 63 characters: it becomes the value of the "
        "bluegreen.dev/release label" in message
    )


def test_the_largest_values_the_caps_allow_are_accepted(
    objects: client.CustomObjectsApi, release_ns: str
) -> None:
    """Every cap is inclusive: the bound itself is a valid release."""
    http = {
        "url": "https://h/" + "u" * 2038,
        "path": "/" + "p" * 1023,
        "expectBody": "b" * 1024,
        "expectBodyRegex": "r" * 256,
        "timeoutSeconds": 60,
        "attempts": 10,
    }
    job = {"template": job_check("e")["job"]["template"], "timeoutSeconds": 3600}
    checks = [{"name": f"c{i}", "http": http} for i in range(15)] + [{"name": "j", "job": job}]
    body = release(
        "n" * 63,
        replicas=1000,
        template={
            "metadata": {
                "labels": {f"example.com/k{i}": "v" * 63 for i in range(64)},
                "annotations": {f"a{i}": "x" * 4096 for i in range(64)},
            },
            "spec": {"containers": [{"name": f"c{i}", "image": "i:1"} for i in range(32)]},
        },
        service={"name": "s" * 63, "targetPort": "abcdefghijklmn1"},
        previewService={"name": "p" * 63},
        infrastructure={"terraform": {"variables": {f"v{i}": {"x": i} for i in range(32)}}},
        checks={"readiness": {"timeoutSeconds": 86400}, "smoke": checks},
        hold={"seconds": MAX_HOLD_SECONDS, "checkIntervalSeconds": 86400, "checks": checks},
    )
    stored = create(objects, release_ns, copy.deepcopy(body))
    assert stored["metadata"]["name"] == "n" * 63
    assert stored["spec"]["checks"]["smoke"] == stored["spec"]["hold"]["checks"]
    assert len(stored["spec"]["hold"]["checks"]) == 16


@pytest.mark.parametrize("port", ["http", "web-8080", "h2c", "x", 1, 65535])
def test_a_target_port_number_or_iana_name_is_accepted(
    objects: client.CustomObjectsApi, release_ns: str, port: int | str
) -> None:
    body = release(f"p-{uuid.uuid4().hex[:6]}", service={"name": "shop", "targetPort": port})
    assert create(objects, release_ns, body)["spec"]["service"]["targetPort"] == port


def test_a_long_service_name_is_fine_with_an_explicit_preview_name(
    objects: client.CustomObjectsApi, release_ns: str
) -> None:
    body = release("shop", service={"name": "s" * 63}, previewService={"name": "preview"})
    create(objects, release_ns, body)


def test_cel_rules_apply_on_update_too(objects: client.CustomObjectsApi, release_ns: str) -> None:
    create(objects, release_ns, release("shop", previewService={"name": "shop-preview"}))
    patch = {"spec": {"previewService": {"name": "shop"}}}
    with pytest.raises(ApiException) as caught:
        objects.patch_namespaced_custom_object(GROUP, VERSION, release_ns, PLURAL, "shop", patch)
    assert caught.value.status == 422
    assert "spec.previewService.name must differ" in server_message(caught.value)


# --- status ------------------------------------------------------------------------------


def full_status() -> ReleaseStatus:
    return ReleaseStatus(
        observed_generation=1,
        phase=Phase.HOLDING,
        revision="5d8f9c2a1b",
        message="holding until 2026-11-26T08:10:00Z",
        active=ActiveRevision("5d8f9c2a1b", "shop-5d8f9c2a1b", "shop:v2", 3, 3, STAMP),
        preview=Candidate("0123456789", "shop-0123456789", "shop:v3", 3, STAMP, STAMP, 1, STAMP),
        previous=Previous("91ab23cd45", "shop-91ab23cd45", "shop:v1", STAMP),
        checks=(CheckStatus("home", "smoke", "http", "5d8f9c2a1b", "Passed", 1, "200", STAMP, 2),),
        infrastructure=InfrastructureStatus(
            applied=True,
            inputs_hash="abc",
            last_apply_time=STAMP,
            outputs={"service": "shop", "preview_service": "shop-preview"},
            failed_inputs_hash="def",
            last_failure_time=STAMP,
            message="Error: boom",
            drift=True,
            last_drift_check_time=STAMP,
        ),
        conditions=tuple(
            Condition(t, "True" if t in ("Ready", "Serving") else "False", "Why", "m", STAMP, 1)
            for t in ORDER
        ),
        history=(HistoryEntry("91ab23cd45", "shop:v1", STAMP, STAMP, "Promoted"),),
        last_action=LastAction("promote", "promote@1", STAMP, "Promoted", "5d8f9c2a1b"),
        approved_revision="5d8f9c2a1b",
        failed_revision="0123456789",
        served=True,
    )


def write_status(
    objects: client.CustomObjectsApi, ns: str, name: str, status: dict[str, Any]
) -> dict[str, Any]:
    current = as_dict(objects.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name))
    current["status"] = status
    return as_dict(
        objects.replace_namespaced_custom_object_status(GROUP, VERSION, ns, PLURAL, name, current)
    )


@pytest.mark.parametrize("status", [ReleaseStatus(), full_status()], ids=["initial", "full"])
def test_every_status_field_the_model_writes_is_kept(
    objects: client.CustomObjectsApi, release_ns: str, status: ReleaseStatus
) -> None:
    """Nothing ReleaseStatus.to_dict writes is pruned or refused, nulls included."""
    create(objects, release_ns, release("shop"))
    emitted = status.to_dict()
    write_status(objects, release_ns, "shop", emitted)
    stored = as_dict(
        objects.get_namespaced_custom_object(GROUP, VERSION, release_ns, PLURAL, "shop")
    )
    assert stored["status"] == emitted
    assert ReleaseStatus.from_dict(stored["status"]) == status


def test_status_is_a_subresource(objects: client.CustomObjectsApi, release_ns: str) -> None:
    body = release("shop")
    body["status"] = {"phase": "Complete"}
    created = create(objects, release_ns, body)
    assert "status" not in created
    generation = created["metadata"]["generation"]
    written = write_status(objects, release_ns, "shop", full_status().to_dict())
    # kstatus compares status.observedGeneration with a generation that status writes leave alone.
    assert written["metadata"]["generation"] == generation == 1


def test_a_status_the_schema_refuses(objects: client.CustomObjectsApi, release_ns: str) -> None:
    create(objects, release_ns, release("shop"))
    status = full_status().to_dict()
    status["phase"] = "Exploded"
    with pytest.raises(ApiException) as caught:
        write_status(objects, release_ns, "shop", status)
    assert caught.value.status == 422
    assert 'status.phase: Unsupported value: "Exploded"' in server_message(caught.value)


def test_conditions_are_a_map_keyed_by_type(
    objects: client.CustomObjectsApi, release_ns: str
) -> None:
    create(objects, release_ns, release("shop"))
    ready = Condition("Ready", "True", "Done", "", STAMP, 1).to_dict()
    with pytest.raises(ApiException) as caught:
        write_status(objects, release_ns, "shop", {"conditions": [ready, ready]})
    assert caught.value.status == 422
    assert "status.conditions[1]: Duplicate value" in server_message(caught.value)


# --- what people see -------------------------------------------------------------------------


def test_printer_columns_and_kubectl_wait(
    objects: client.CustomObjectsApi,
    release_ns: str,
    kubectl: Callable[..., Any],
) -> None:
    create(objects, release_ns, release("shop"))
    write_status(objects, release_ns, "shop", full_status().to_dict())

    table = kubectl("get", "bgr", "shop", "-n", release_ns).stdout.split("\n")
    assert table[0].split() == ["NAME", "PHASE", "ACTIVE", "PREVIEW", "READY", "AGE"]
    assert table[1].split()[:5] == ["shop", "Holding", "5d8f9c2a1b", "0123456789", "True"]

    # The category and the plural name list it as well.
    assert "shop" in kubectl("get", "bluegreen", "-n", release_ns, "-o", "name").stdout
    assert "shop" in kubectl("get", PLURAL, "-n", release_ns, "-o", "name").stdout

    waited = kubectl("wait", "--for=condition=Ready", "bgr/shop", "-n", release_ns, "--timeout=20s")
    assert "condition met" in waited.stdout


def test_kubectl_explain_documents_the_fields(release_ns: str, kubectl: Callable[..., Any]) -> None:
    explained = kubectl("explain", "bgr.spec.hold.seconds").stdout
    assert "How long the previous revision is kept" in explained
    explained = kubectl("explain", "bgr.status.conditions").stdout
    assert "kstatus conditions" in explained
