"""Specs generated from the CRD's own schema, sent to the real API server and operator.

The strategy walks ``openAPIV3Schema.properties.spec``: types, enums, bounds,
lengths, patterns (approximately) and list sizes, with values just outside a
bound now and then and, at a per-example rate, random garbage in place of a
field. Every spec goes to the real API server; what it accepts the real
operator reconciles. Properties:

- a refusal is a validation error (422/400), never a server error or a CEL
  cost overrun;
- whatever the API server accepts, ``parse_spec`` either parses or raises
  SpecError (never another exception), and a SpecError stalls the release with
  that same reason;
- every accepted release gets conditions for its generation within a bound,
  and a Stalled condition always carries a reason;
- the operator process stays alive and its liveness endpoint answers.

Bounded for CI: ``BLUEGREEN_FUZZ_EXAMPLES`` examples (default 100, well under two
minutes), no shrinking
(each example costs a round trip to a real cluster), a deadline per example.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from bluegreen.core.errors import SpecError
from bluegreen.core.spec import parse_spec
from tests.conftest import Cluster
from tests.integration.harness import REPO, Kubectl, Operator, Release, wait_for
from tests.integration.operator.test_bad_input_corpus import (
    LivenessProbe,
    TargetServer,
    delete_releases,
    live,
)

EXAMPLES = int(os.environ.get("BLUEGREEN_FUZZ_EXAMPLES", "100"))
CONDITIONS_TIMEOUT_S = 30
"""An accepted release has conditions for its generation within this many seconds."""
CRD_PATH = REPO / "crds" / "bluegreenreleases.bluegreen.dev.yaml"
RESERVED_LABELS = (
    "bluegreen.dev/revision",
    "bluegreen.dev/release",
    "app.kubernetes.io/managed-by",
)

# Where the schema allows more than a test cluster should run, the fuzzer stays
# smaller (bounds still probed one step beyond): pods, check durations, list sizes.
INT_OVERRIDES: dict[str, tuple[int, int]] = {
    "replicas": (1, 3),
    "checks.smoke[].http.attempts": (1, 2),
    "hold.checks[].http.attempts": (1, 2),
}
NUMBER_OVERRIDES: dict[str, tuple[float, float]] = {
    "checks.smoke[].http.timeoutSeconds": (1, 2),
    "hold.checks[].http.timeoutSeconds": (1, 2),
}
MAX_LIST = 4
MAX_TEXT = 40


def spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_PATH.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert isinstance(schema, dict)
    return schema


# --- values that are not what the schema says ------------------------------------------

GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=MAX_TEXT),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(-5, 5), max_size=3),
)


@dataclass(frozen=True)
class Knobs:
    """Per-example choices: valid by the schema or wild, and where checks point.

    A valid example keeps every value inside the schema (so most reach the
    operator); a wild one also steps past bounds, drops required fields and puts
    garbage in place of a field ``garbage_per_mille`` times in a thousand.
    """

    wild: bool
    garbage_per_mille: int
    urls: tuple[str, ...]


# --- the walk ----------------------------------------------------------------------------


def from_schema(draw: st.DrawFn, node: Mapping[str, Any], path: str, knobs: Knobs) -> Any:
    """One value for ``node``; ``path`` uses dots between properties, ``[]`` for items."""
    if path and draw(st.integers(0, 999)) < knobs.garbage_per_mille:
        return draw(GARBAGE)
    special = SPECIAL.get(path)
    if special is not None:
        return special(draw, node, knobs)
    if node.get("x-kubernetes-int-or-string"):
        if knobs.wild:
            names = st.from_regex(r"[a-z0-9-]{0,16}", fullmatch=True)
            return draw(st.one_of(st.integers(-1, 70_000), names))
        names = st.from_regex(r"[a-z]{1,8}(-[a-z0-9]{1,6})?", fullmatch=True)
        return draw(st.one_of(st.integers(1, 65535), names))
    kind = node.get("type")
    if "enum" in node:
        return draw(st.sampled_from([*node["enum"], "Bogus"] if knobs.wild else node["enum"]))
    if kind == "object":
        return _object(draw, node, path, knobs)
    if kind == "array":
        items = node["items"]
        size = draw(_size(node.get("maxItems", MAX_LIST), knobs))
        return [from_schema(draw, items, f"{path}[]", knobs) for _ in range(size)]
    return _scalar(draw, node, path, knobs)


def _scalar(draw: st.DrawFn, node: Mapping[str, Any], path: str, knobs: Knobs) -> Any:
    kind = node.get("type")
    if kind == "integer":
        lo, hi = INT_OVERRIDES.get(path, (node.get("minimum", -10), node.get("maximum", 10**6)))
        if not knobs.wild:
            return draw(st.integers(lo, hi))
        near = [node.get("minimum", lo) - 1, node.get("maximum", hi) + 1, lo, hi]
        return draw(st.one_of(st.integers(lo, hi), st.sampled_from(near)))
    if kind == "number":
        lo_f, hi_f = NUMBER_OVERRIDES.get(path, (node.get("minimum", 0), node.get("maximum", 1e6)))
        if not knobs.wild:
            return draw(st.floats(lo_f, hi_f))
        return draw(st.one_of(st.floats(lo_f, hi_f), st.sampled_from([0, 0.5, 61, lo_f, hi_f])))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "string":
        return _string(draw, node, knobs)
    raise AssertionError(f"{path}: the fuzzer does not know schema type {kind!r}")


def _size(max_items: int, knobs: Knobs) -> st.SearchStrategy[int]:
    """Small lists; in a wild example now and then one item beyond the schema's maxItems."""
    small = st.integers(0, min(max_items, MAX_LIST))
    return st.one_of(small, st.just(max_items + 1)) if knobs.wild else small


def _object(draw: st.DrawFn, node: Mapping[str, Any], path: str, knobs: Knobs) -> Any:
    out: dict[str, Any] = {}
    required = set(node.get("required", []))
    for key, child in (node.get("properties") or {}).items():
        # A required key goes missing now and then: the API server must say so.
        if key in required:
            present = not knobs.wild or draw(st.integers(0, 19)) > 0
        else:
            present = draw(st.booleans())
        if present:
            out[key] = from_schema(draw, child, f"{path}.{key}" if path else key, knobs)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        keys = draw(st.lists(st.from_regex(r"[a-z][a-z0-9./-]{0,12}", fullmatch=True), max_size=3))
        for key in keys:
            out[key] = from_schema(draw, extra, f"{path}.*", knobs)
    return out


def _string(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> str:
    limit = int(node.get("maxLength", MAX_TEXT))
    if not knobs.wild:
        if "pattern" in node:
            return str(draw(st.from_regex(node["pattern"], fullmatch=True)))[:limit]
        return draw(st.text(max_size=min(limit, MAX_TEXT)))
    if draw(st.integers(0, 9)) == 0:
        return "x" * (limit + 1)  # just too long
    if "pattern" in node:
        text = draw(st.one_of(st.from_regex(node["pattern"], fullmatch=True), st.text(max_size=8)))
    else:
        text = draw(st.text(max_size=min(limit, MAX_TEXT)))
    return str(text)[: limit + 1]


# Fields where a walk of the schema alone would almost never produce anything that
# runs: the pod template, the Job template, URLs and Terraform variables.


def _template(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> Any:
    keys = ["app", "tier", "example.com/team"]
    label_keys = st.sampled_from([*keys, "bad key", *RESERVED_LABELS] if knobs.wild else keys)
    label_values: st.SearchStrategy[str] = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)
    if knobs.wild:
        label_values = st.one_of(label_values, st.text(max_size=4))
    # Pod specs the Deployment API would refuse (bad names, no image) only in wild ones.
    names = ["app", "side", "App_1", "a" * 64] if knobs.wild else ["app", "side"]
    images = ["spacelift-app:v1", "spacelift-app:v2", *([""] if knobs.wild else [])]
    container = st.fixed_dictionaries(
        {
            "name": st.sampled_from(names),
            "image": st.sampled_from(images),
            "imagePullPolicy": st.just("Never"),
        }
    )
    containers = st.lists(
        container,
        min_size=0 if knobs.wild else 1,
        max_size=2,
        unique_by=None if knobs.wild else (lambda c: c["name"]),
    )
    template: dict[str, Any] = {"spec": {"containers": draw(containers)}}
    if draw(st.booleans()):
        labels = draw(st.dictionaries(label_keys, label_values, max_size=3))
        template["metadata"] = {"labels": labels}
    return template


def _job_template(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> Any:
    pod = {
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "t", "image": "curl:1", "imagePullPolicy": "Never"}],
        }
    }
    return draw(st.sampled_from([{"template": pod}, {}, {"template": {}}]))


def _url(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> Any:
    urls = st.sampled_from(knobs.urls)
    return draw(st.one_of(urls, st.text(max_size=12)) if knobs.wild else urls)


def _path(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> Any:
    paths = st.from_regex(r"/[a-zA-Z0-9/_.~%-]{0,20}", fullmatch=True)
    return draw(st.one_of(paths, st.text(max_size=12)) if knobs.wild else paths)


def _variables(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> Any:
    reserved = list(node.get("properties", {})) if knobs.wild else []
    keys = st.sampled_from([*reserved, "extra", "replicas_hint", "team"])
    values = st.one_of(st.integers(0, 9), st.text(max_size=6), st.booleans())
    return draw(st.dictionaries(keys, values, max_size=4))


def _check(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs, path: str) -> Any:
    """A check as the schema describes it; a valid example keeps exactly one of http, job."""
    check = _object(draw, node, path, knobs)
    if not knobs.wild:
        kind = draw(st.sampled_from(["http", "job"]))
        check.pop("job" if kind == "http" else "http", None)
        if kind not in check:
            props = node["properties"][kind]
            check[kind] = from_schema(draw, props, f"{path}.{kind}", knobs)
    return check


def _smoke_check(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> Any:
    return _check(draw, node, knobs, "checks.smoke[]")


def _hold_check(draw: st.DrawFn, node: Mapping[str, Any], knobs: Knobs) -> Any:
    return _check(draw, node, knobs, "hold.checks[]")


SPECIAL: dict[str, Callable[[st.DrawFn, Mapping[str, Any], Knobs], Any]] = {
    "checks.smoke[]": _smoke_check,
    "hold.checks[]": _hold_check,
    "template": _template,
    "infrastructure.terraform.variables": _variables,
    "checks.smoke[].http.url": _url,
    "checks.smoke[].http.path": _path,
    "hold.checks[].http.path": _path,
    "hold.checks[].http.url": _url,
    "checks.smoke[].job.template": _job_template,
    "hold.checks[].job.template": _job_template,
}


@st.composite
def specs(draw: st.DrawFn, schema: Mapping[str, Any], urls: tuple[str, ...]) -> Any:
    wild = draw(st.booleans())
    knobs = Knobs(wild, draw(st.sampled_from([0, 10, 40])) if wild else 0, urls)
    spec = from_schema(draw, schema, "", knobs)
    if not wild:
        _valid_across_fields(spec)
    return spec, not wild


def own_services(spec: Any, release: str) -> None:
    """Generated names are short and repeat, so valid examples would mostly meet each
    other's Services (ServiceNotOwned): those get names of their own, from the
    release's. Wild examples keep theirs and so also probe Services others own."""
    if isinstance(spec, dict) and isinstance(spec.get("service"), dict):
        spec["service"]["name"] = f"s-{release}"
        spec["previewService"] = {"name": f"p-{release}"}


def _valid_across_fields(spec: dict[str, Any]) -> None:
    """What the CEL rules across fields ask, for examples meant to be valid."""
    service = spec.get("service", {}).get("name", "")
    if spec.get("previewService", {}).get("name") == service or len(service) > 55:
        spec["previewService"] = {"name": f"p-{service[:50]}"}
    for where in (spec.get("checks", {}), spec.get("hold", {})):
        for key in ("smoke", "checks"):
            if isinstance(where.get(key), list):
                for i, check in enumerate(where[key]):
                    check["name"] = f"c{i}-{check['name'][:50]}"


# --- the run ------------------------------------------------------------------------------


@dataclass
class Figures:
    examples: int = 0
    refused: int = 0
    accepted: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def report(self) -> str:
        lines = [
            f"examples: {self.examples}",
            f"refused by the API server: {self.refused}",
            f"accepted and reconciled: {self.accepted}",
            *(f"  {k}: {v}" for k, v in sorted(self.outcomes.items())),
        ]
        return "\n".join(lines)


@dataclass
class Fuzz:
    k: Kubectl
    env: dict[str, str]
    namespace: str
    operator: Operator
    probe: LivenessProbe
    urls: tuple[str, ...]
    figures: Figures = field(default_factory=Figures)


@pytest.fixture(scope="module")
def fuzz(cluster: Cluster, k: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    namespace = f"fz-{uuid.uuid4().hex[:8]}"
    k.run("create", "namespace", namespace)
    tmp = tmp_path_factory.mktemp("fuzz")
    ok, bait = TargetServer("127.0.0.1"), TargetServer("127.0.0.2")
    operator = Operator(
        cluster.env,
        namespace,
        tmp / "operator.log",
        "--infrastructure",
        "kubernetes",
        "--drift-interval",
        "0",
        "--check-allowed-hosts",
        "127.0.0.1",
    )
    operator.start()
    probe = LivenessProbe(f"http://127.0.0.1:{operator.liveness_port}/healthz", max_probes=2000)
    urls = (ok.url, bait.url, "http://169.254.169.254", "https://127.0.0.1:1")
    state = Fuzz(k, dict(cluster.env), namespace, operator, probe, urls)
    try:
        wait_for("operator liveness", lambda: live(probe.url), timeout=30)
        probe.start()
        yield state
    finally:
        probe.stop()
        undeletable = delete_releases(k, [namespace])
        operator.kill()
        ok.stop()
        bait.stop()
        k.run("delete", "namespace", namespace, "--wait=false", check=False)
        report = state.figures.report() + (
            f"\nliveness: {probe.probes} probes, {len(probe.failures)} failures"
            f"\nbait host requests: {len(bait.hits)}"
            f"\nreleases not deleted within a minute: {undeletable}"
        )
        print(f"\n{report}\noperator log: {operator.log}")
        (tmp / "fuzz-figures.txt").write_text(report + "\n")
        assert not bait.hits, f"a check reached a host not allowed: {bait.hits}"
        assert not undeletable, f"releases that could not be deleted: {undeletable}"


def create(fuzz: Fuzz, body: Mapping[str, Any]) -> tuple[bool, str]:
    done = subprocess.run(
        ["kubectl", "create", "-n", fuzz.namespace, "-f", "-", "-o", "json"],
        env=fuzz.env,
        input=json.dumps(body),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0, done.stdout if done.returncode == 0 else done.stderr


def conditions_for_generation(rel: Release) -> dict[str, dict[str, Any]] | None:
    obj = rel.get()
    generation = obj.get("metadata", {}).get("generation")
    conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
    if conditions and all(c.get("observedGeneration") == generation for c in conditions.values()):
        return conditions
    return None


def expected_stall(spec: Mapping[str, Any]) -> str | None:
    """The reason parse_spec gives for ``spec``, or None; any other exception fails."""
    try:
        parse_spec(spec)
    except SpecError as err:
        return err.reason
    return None


@pytest.mark.cluster
def test_generated_specs_never_break_the_api_server_or_the_operator(fuzz: Fuzz) -> None:
    schema = spec_schema()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(example=specs(schema, fuzz.urls))
    def one(example: tuple[Any, bool]) -> None:
        spec, valid = example
        fuzz.figures.examples += 1
        name = f"fz-{fuzz.figures.examples}-{uuid.uuid4().hex[:4]}"
        if valid:
            own_services(spec, name)
        body = {
            "apiVersion": "bluegreen.dev/v1alpha1",
            "kind": "BlueGreenRelease",
            "metadata": {"name": name},
            "spec": spec,
        }
        note(json.dumps(body)[:2000])
        accepted, output = create(fuzz, body)
        if not accepted:
            fuzz.figures.refused += 1
            assert "is invalid" in output or "BadRequest" in output, output
            assert "cost" not in output.lower(), f"a CEL rule ran out of budget: {output}"
            assert "internal error" not in output.lower(), output
            return
        fuzz.figures.accepted += 1
        stored = json.loads(output)["spec"]
        stall = expected_stall(stored)
        rel = Release(fuzz.k, fuzz.namespace, name)
        conditions = wait_for(
            f"{name} has conditions for its generation",
            lambda: conditions_for_generation(rel),
            timeout=CONDITIONS_TIMEOUT_S,
        )
        if stall is not None:

            def stalled_now() -> dict[str, dict[str, Any]] | None:
                now = conditions_for_generation(rel) or {}
                return now if now.get("Stalled", {}).get("status") == "True" else None

            conditions = wait_for(f"{name} Stalled", stalled_now, timeout=CONDITIONS_TIMEOUT_S)
            assert conditions["Stalled"].get("reason") == stall
        stalled = conditions.get("Stalled", {})
        if stalled.get("status") == "True":
            assert stalled.get("reason"), f"{name}: Stalled without a reason: {stalled}"
            fuzz.figures.outcomes[f"Stalled/{stalled['reason']}"] += 1
        else:
            phase = rel.status().get("phase")
            fuzz.figures.outcomes[f"reconciling ({phase})"] += 1
        assert fuzz.operator.process is not None and fuzz.operator.process.poll() is None
        assert live(fuzz.probe.url), "the operator's liveness endpoint stopped answering"

    one()
    assert fuzz.figures.examples >= min(EXAMPLES, 10)
    assert not fuzz.probe.failures, f"liveness failed: {fuzz.probe.failures[:5]}"


def test_the_fuzzer_knows_every_schema_node() -> None:
    """Guards the walk: a new schema type or field the strategy can't build fails here."""
    schema = spec_schema()
    urls = ("http://127.0.0.1:1",)

    @settings(max_examples=30, deadline=None, database=None)
    @given(example=specs(schema, urls))
    def one(example: tuple[Any, bool]) -> None:
        json.dumps(example[0])

    one()
