"""The parser and the status writer behave as the CRD generated from the same models says.

The CRD and the models share their declarations (``bluegreen.api``), so what is
left to check is behaviour: ``parse_spec`` reads exactly the declared keys,
refuses what the schema's bounds, caps and CEL rules refuse, and means by an
absent field what the schema's default means; ``ReleaseStatus.to_dict`` writes
exactly what the status schema declares. The CRD comes from the generator; a
test in tests/unit/api pins it to the committed YAML.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from bluegreen.api.crd import build_crd
from bluegreen.api.limits import RESERVED_VARIABLES
from bluegreen.core.conditions import ORDER
from bluegreen.core.errors import SpecError
from bluegreen.core.spec import parse_spec
from bluegreen.core.status import (
    ActiveRevision,
    Candidate,
    CheckStatus,
    Condition,
    HistoryEntry,
    HookStatus,
    InfrastructureStatus,
    LastAction,
    Phase,
    Previous,
    ReleaseStatus,
)

# Paths use dots between properties and "[]" for the items of a list.
OPAQUE = "x-kubernetes-preserve-unknown-fields"


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return build_crd()


@pytest.fixture(scope="module")
def version(crd: dict[str, Any]) -> dict[str, Any]:
    versions = crd["spec"]["versions"]
    assert len(versions) == 1
    return dict(versions[0])


@pytest.fixture(scope="module")
def spec_schema(version: dict[str, Any]) -> dict[str, Any]:
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


@pytest.fixture(scope="module")
def status_schema(version: dict[str, Any]) -> dict[str, Any]:
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["status"])


# --- schema helpers ------------------------------------------------------------------


def walk(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (path, node) of a schema, the root included as ''."""
    yield path, schema
    for key, child in (schema.get("properties") or {}).items():
        yield from walk(child, f"{path}.{key}" if path else key)
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield from walk(extra, f"{path}.*")


def opaque_roots(schema: Mapping[str, Any]) -> set[str]:
    return {path for path, node in walk(schema) if node.get(OPAQUE)}


def under(path: str, roots: set[str]) -> bool:
    return any(path.startswith(f"{root}.") or path.startswith(f"{root}[]") for root in roots)


def apply_defaults(value: Any, schema: Mapping[str, Any]) -> Any:
    """Default like the API server: a parent's default first, then its children's."""
    if isinstance(value, dict):
        for key, child in (schema.get("properties") or {}).items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
            if key in value:
                value[key] = apply_defaults(value[key], child)
    elif isinstance(value, list) and "items" in schema:
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


# --- spec: recorded reads --------------------------------------------------------------


class Recorder(Mapping[str, Any]):
    """A read-only mapping that records every key parse_spec asks for."""

    def __init__(self, data: Mapping[str, Any], path: str, reads: set[str]) -> None:
        self._data = data
        self._path = path
        self._reads = reads

    def _child(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def __getitem__(self, key: str) -> Any:
        self._reads.add(self._child(key))
        return wrap(self._data[key], self._child(key), self._reads)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def wrap(value: Any, path: str, reads: set[str]) -> Any:
    if isinstance(value, Mapping):
        return Recorder(value, path, reads)
    if isinstance(value, list):
        return [wrap(item, f"{path}[]", reads) for item in value]
    return value


def http_check(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "http": {
            "path": "/healthz",
            "port": 8080,
            "url": "http://example.test:8080",
            "expectStatus": 204,
            "expectBody": "ok",
            "expectBodyRegex": "o+k",
            "timeoutSeconds": 2.5,
            "attempts": 5,
        },
    }


def job_check(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "job": {
            "template": {"template": {"spec": {"containers": [{"name": "t", "image": "t:1"}]}}},
            "timeoutSeconds": 120,
        },
    }


def metric_check(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "metric": {
            "query": 'sum(rate(app_requests_total{revision="{{revision}}"}[{{window}}]))',
            "windowSeconds": 30,
            "max": 0.05,
            "min": 0,
            "maxIncrease": 0.01,
            "maxIncreasePercent": 20,
            "consecutiveFailures": 2,
            "intervalSeconds": 5,
            "onInconclusive": "Fail",
            "inconclusiveTimeoutSeconds": 120,
            "timeoutSeconds": 5,
        },
    }


def hook(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "template": {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}},
        "timeoutSeconds": 900,
        "retries": 3,
    }


def full_spec() -> dict[str, Any]:
    """A spec that sets every field the schema declares."""
    return {
        "replicas": 3,
        "template": {
            "metadata": {"labels": {"app": "shop"}, "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "app", "image": "shop:v2"}]},
        },
        "service": {"name": "shop", "type": "NodePort", "port": 8080, "targetPort": "http"},
        "previewService": {"name": "shop-try"},
        "infrastructure": {
            "terraform": {"variables": {"extra_labels": {"team": "web"}}},
            "deletionPolicy": "Retain",
        },
        "checks": {
            "readiness": {"timeoutSeconds": 120},
            "smoke": [http_check("home"), job_check("e2e"), metric_check("kpi")],
        },
        "promotion": {"auto": False, "approvedRevision": "5d8f9c2a1b"},
        "hold": {
            "seconds": 300,
            "checkIntervalSeconds": 10,
            "checks": [http_check("live"), job_check("soak"), metric_check("errors")],
        },
        "hooks": {
            "preSwitch": [hook("expand")],
            "postSwitch": [hook("warm")],
            "postCleanup": [hook("contract")],
        },
    }


def minimal_spec() -> dict[str, Any]:
    return {
        "template": {"spec": {"containers": [{"name": "app", "image": "shop:v1"}]}},
        "service": {"name": "shop"},
    }


def test_every_key_parse_spec_reads_is_declared(spec_schema: dict[str, Any]) -> None:
    reads: set[str] = set()
    parse_spec(Recorder(full_spec(), "", reads))
    declared = {path for path, _ in walk(spec_schema)}
    roots = opaque_roots(spec_schema)
    missing = sorted(p for p in reads if p not in declared and not under(p, roots))
    assert not missing, f"parse_spec reads keys the CRD does not declare: {missing}"


def test_every_declared_key_is_read_by_parse_spec(spec_schema: dict[str, Any]) -> None:
    reads: set[str] = set()
    parse_spec(Recorder(full_spec(), "", reads))
    roots = opaque_roots(spec_schema)
    declared = {
        path
        for path, _ in walk(spec_schema)
        if path and not path.endswith("[]") and not under(path, roots)
    }
    unread = sorted(declared - reads)
    assert not unread, f"the CRD declares keys parse_spec never reads: {unread}"


def test_the_full_sample_sets_every_declared_key(spec_schema: dict[str, Any]) -> None:
    """Guards the two tests above: a key missing from the sample is never read."""
    roots = opaque_roots(spec_schema)
    declared = {path for path, _ in walk(spec_schema) if path and not under(path, roots)}
    present = {path for path, _ in walk_value(full_spec())}
    assert declared <= present, sorted(declared - present)


def walk_value(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if path:
        yield path, value
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from walk_value(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from walk_value(item, f"{path}[]")


# --- spec: defaults and bounds ------------------------------------------------------------


def test_parse_spec_needs_what_the_crd_requires(spec_schema: dict[str, Any]) -> None:
    assert spec_schema["required"]
    for without in spec_schema["required"]:
        raw = minimal_spec()
        del raw[without]
        with pytest.raises(SpecError):
            parse_spec(raw)


def test_schema_defaults_do_not_change_the_parsed_spec(spec_schema: dict[str, Any]) -> None:
    """What the API server fills in must mean what parse_spec assumes when it is absent."""
    raw = minimal_spec()
    raw["checks"] = {"smoke": [{"name": "a", "http": {}}, {"name": "b", "job": {"template": {}}}]}
    raw["hold"] = {
        "checks": [
            {"name": "c", "http": {}},
            {"name": "d", "job": {"template": {}}},
            {"name": "e", "metric": {"query": "up", "max": 1}},
        ]
    }
    defaulted = apply_defaults(copy.deepcopy(raw), spec_schema)
    assert defaulted != raw, "the schema should fill some defaults"
    assert parse_spec(defaulted) == parse_spec(raw)


# Where the CRD is deliberately stricter than parse_spec (the API server refuses
# first, so the model never sees these values).
SCHEMA_STRICTER = {
    ("checks.smoke[].http.expectStatus", "maximum"),
    ("hold.checks[].http.expectStatus", "maximum"),
}


def set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set a schema path in full_spec(): http fields on the first check, job on the second,
    metric on the third."""
    index = "1" if ".job." in path else "2" if ".metric." in path else "0"
    steps = path.replace("[]", f".{index}").split(".")
    node: Any = raw
    for step in steps[:-1]:
        node = node[int(step)] if isinstance(node, list) else node[step]
    node[steps[-1]] = value


def integer_bounds(spec_schema: dict[str, Any]) -> Iterator[tuple[str, str, int]]:
    roots = opaque_roots(spec_schema)
    for path, node in walk(spec_schema):
        if node.get("type") != "integer" or under(path, roots):
            continue
        for bound in ("minimum", "maximum"):
            if bound in node:
                yield path, bound, int(node[bound])


def test_integer_bounds_are_the_model_bounds(spec_schema: dict[str, Any]) -> None:
    bounds = list(integer_bounds(spec_schema))
    assert len(bounds) >= 20
    beyond_accepted = []
    for path, bound, value in bounds:
        raw = full_spec()
        set_path(raw, path, value)
        parse_spec(raw)  # the bound itself is valid for both
        if (path, bound) in SCHEMA_STRICTER:
            continue
        beyond = value - 1 if bound == "minimum" else value + 1
        set_path(raw, path, beyond)
        try:
            parse_spec(raw)
        except SpecError:
            continue
        beyond_accepted.append(f"{path}={beyond} (CRD {bound} {value})")
    assert not beyond_accepted, f"parse_spec accepts what the CRD refuses: {beyond_accepted}"


def test_string_and_list_caps_are_the_model_caps(spec_schema: dict[str, Any]) -> None:
    """maxLength and maxItems of check fields: one past the cap is refused by both."""
    caps = [
        (path, node)
        for path, node in walk(spec_schema)
        if path.startswith("checks.smoke") and ("maxLength" in node or "maxItems" in node)
    ]
    assert {p for p, _ in caps} >= {
        "checks.smoke",
        "checks.smoke[].name",
        "checks.smoke[].http.path",
        "checks.smoke[].http.url",
        "checks.smoke[].http.expectBody",
        "checks.smoke[].http.expectBodyRegex",
    }
    for path, node in caps:
        raw = full_spec()
        if "maxItems" in node:
            raw["checks"]["smoke"] = [http_check(f"c{i}") for i in range(node["maxItems"] + 1)]
        else:
            start = {"checks.smoke[].http.path": "/", "checks.smoke[].http.url": "http://h/"}
            text = start.get(path, "a")
            set_path(raw, path, text + "a" * (node["maxLength"] + 1 - len(text)))
        with pytest.raises(SpecError):
            parse_spec(raw)


def _both(raw: dict[str, Any]) -> None:
    raw["checks"]["smoke"][0]["job"] = job_check("x")["job"]


def _label(key: str) -> Any:
    return lambda raw: raw["template"]["metadata"]["labels"].update({key: "x"})


def _variable(name: str) -> Any:
    return lambda raw: raw["infrastructure"]["terraform"]["variables"].update({name: "x"})


def _long_default_preview(raw: dict[str, Any]) -> None:
    del raw["previewService"]
    raw["service"]["name"] = "s" * 56


# Inputs a CEL rule refuses; parse_spec must refuse them too, for a spec that
# reached the operator under an older CRD.
CEL_REFUSED = {
    "both-http-and-job": _both,
    "neither-http-nor-job": lambda r: r["checks"]["smoke"][0].pop("http"),
    "both-http-and-metric": lambda r: r["checks"]["smoke"][0].update(
        metric=metric_check("x")["metric"]
    ),
    "metric-without-condition": lambda r: [
        r["hold"]["checks"][2]["metric"].pop(k)
        for k in ("max", "min", "maxIncrease", "maxIncreasePercent")
    ],
    "metric-empty-query": lambda r: r["hold"]["checks"][2]["metric"].update(query=""),
    "same-hook-names": lambda r: r["hooks"]["preSwitch"].append(hook("expand")),
    "same-check-names": lambda r: r["hold"]["checks"][1].update(name="live"),
    "path-without-slash": lambda r: r["checks"]["smoke"][0]["http"].update(path="healthz"),
    "preview-equals-service": lambda r: r["previewService"].update(name="shop"),
    "no-containers": lambda r: r["template"]["spec"].update(containers=[]),
    "no-pod-spec": lambda r: r["template"].pop("spec"),
    "default-preview-name-too-long": _long_default_preview,
    "path-with-space": lambda r: r["checks"]["smoke"][0]["http"].update(path="/a b"),
    "url-with-newline": lambda r: r["checks"]["smoke"][0]["http"].update(url="http://h\n"),
    "url-ftp": lambda r: r["checks"]["smoke"][0]["http"].update(url="ftp://h/"),
    "target-port-bad-name": lambda r: r["service"].update(targetPort="HTTP--1"),
    **{
        f"reserved-label-{key}": _label(key)
        for key in ("bluegreen.dev/revision", "bluegreen.dev/x", "app.kubernetes.io/managed-by")
    },
    **{f"reserved-variable-{name}": _variable(name) for name in RESERVED_VARIABLES},
}


@pytest.mark.parametrize("mutate", list(CEL_REFUSED.values()), ids=list(CEL_REFUSED))
def test_parse_spec_refuses_what_the_cel_rules_refuse(mutate: Any) -> None:
    raw = full_spec()
    mutate(raw)
    with pytest.raises(SpecError):
        parse_spec(raw)


# --- status ------------------------------------------------------------------------------


def full_status() -> ReleaseStatus:
    stamp = "2026-11-26T08:00:00Z"
    return ReleaseStatus(
        observed_generation=7,
        phase=Phase.HOLDING,
        revision="5d8f9c2a1b",
        message="holding",
        active=ActiveRevision("5d8f9c2a1b", "shop-5d8f9c2a1b", "shop:v2", 3, 3, stamp),
        preview=Candidate("0123456789", "shop-0123456789", "shop:v3", 3, stamp, stamp, 1, stamp),
        previous=Previous("91ab23cd45", "shop-91ab23cd45", "shop:v1", stamp, draining=True),
        checks=(
            CheckStatus("home", "smoke", "http", "5d8f9c2a1b", "Passed", 1, "200", stamp, 2),
            CheckStatus(
                "errors",
                "hold",
                "metric",
                "5d8f9c2a1b",
                "Running",
                3,
                "no data; waiting",
                stamp,
                3,
                value="0.2",
                baseline="0.01",
                verdict="Inconclusive",
                failures=1,
                inconclusive_since=stamp,
            ),
        ),
        hooks=(
            HookStatus(
                "contract",
                "postCleanup",
                "5d8f9c2a1b",
                "Failed",
                previous_revision="91ab23cd45",
                job="shop-5d8f9c2a1b-postcleanup-contract-1",
                attempt=1,
                message="job failed: BackoffLimitExceeded",
                started_at=stamp,
                finished_at=stamp,
            ),
        ),
        infrastructure=InfrastructureStatus(
            applied=True,
            inputs_hash="abc",
            last_apply_time=stamp,
            outputs={"service": "shop"},
            failed_inputs_hash="def",
            last_failure_time=stamp,
            message="boom",
            drift=True,
            last_drift_check_time=stamp,
        ),
        conditions=tuple(Condition(t, "True", "Reason", "m", stamp, 7) for t in ORDER),
        history=(HistoryEntry("91ab23cd45", "shop:v1", stamp, stamp, "Promoted"),),
        last_action=LastAction("promote", "promote@1", stamp, "Promoted", "5d8f9c2a1b"),
        approved_revision="5d8f9c2a1b",
        failed_revision="0123456789",
        served=True,
        selector="bluegreen.dev/release=shop,bluegreen.dev/revision=5d8f9c2a1b",
    )


TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}


def check_value(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    """The ways ``value`` breaks ``schema`` (types, nullable, enum, required, keys)."""
    if value is None:
        return [] if schema.get("nullable") else [f"{path}: null but not nullable"]
    kind = schema.get("type")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, TYPES[str(kind)])
    if not ok:
        return [f"{path}: {value!r} is not {kind}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        errors += [f"{path}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for key, child in value.items():
            child_schema = props.get(key, extra if isinstance(extra, Mapping) else None)
            if child_schema is None:
                errors.append(f"{path}.{key}: not in the schema (would be pruned)")
            else:
                errors += check_value(child, child_schema, f"{path}.{key}")
    if isinstance(value, list):
        for item in value:
            errors += check_value(item, schema["items"], f"{path}[]")
    return errors


@pytest.mark.parametrize("status", [ReleaseStatus(), full_status()], ids=["empty", "full"])
def test_status_to_dict_fits_the_schema(
    status_schema: dict[str, Any], status: ReleaseStatus
) -> None:
    emitted = status.to_dict()
    assert check_value(emitted, status_schema, "status") == []
    assert ReleaseStatus.from_dict(emitted) == status


def test_every_status_field_is_written(status_schema: dict[str, Any]) -> None:
    emitted = {path for path, _ in walk_value(full_status().to_dict())}
    declared = {p.replace(".*", ".service") for p, _ in walk(status_schema) if p}
    assert declared <= emitted, (
        f"the CRD declares status fields never written: {declared - emitted}"
    )
