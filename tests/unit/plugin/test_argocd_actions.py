"""The Argo CD resource actions, run for real in Lua 5.1 (Argo CD's dialect) and 5.4.

What an action writes is read back with the operator's own parser
(``bluegreen.api.human_actions``): an action the operator would reject fails here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import argocd_lua
import pytest
import yaml
from argocd_lua import RUNTIMES, from_lua

from bluegreen.api.argocd import ACTIONS, ACTIONS_KEY, HEALTH_KEY
from bluegreen.api.human_actions import argument_problem, parse_action
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION

ARGOCD = Path(__file__).resolve().parents[3] / "manifests" / "argocd"


def run(
    script: str, obj: Mapping[str, Any], module: str, params: Mapping[str, str] | None = None
) -> Any:
    return from_lua(argocd_lua.run(script, copy.deepcopy(dict(obj)), module, params))


def action(name: str) -> str:
    return (ARGOCD / "actions" / name / "action.lua").read_text()


DISCOVERY = (ARGOCD / "actions" / "discovery.lua").read_text()


def release(phase: str | None, generation: int = 3, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenRelease",
        "metadata": {"name": "shop", "namespace": "shop", "generation": generation},
        "spec": {"replicas": 3},
    }
    if phase is not None:
        obj["status"] = {"observedGeneration": 3, "phase": phase, "revision": "77aa", **status}
    return obj


HELD = {"previous": {"revision": "91ab", "deleteAfter": "2026-11-26T12:09:30Z"}}


@pytest.mark.parametrize("module", RUNTIMES)
@pytest.mark.parametrize(
    ("obj", "enabled"),
    [
        (release(None), set()),
        (release("Deploying"), {"abort"}),
        (release("AwaitingPromotion"), {"promote", "abort"}),
        # A status for an older generation may name a revision Git already replaced.
        (release("AwaitingPromotion", generation=4), {"abort"}),
        (release("Holding", **HELD), {"abort", "rollback", "extend-hold"}),
        (release("Complete"), set()),
        (release("RolledBack", **HELD), {"rollback", "extend-hold"}),
        (release("Failed"), set()),
    ],
    ids=[
        "no-status",
        "deploying",
        "awaiting",
        "awaiting-stale",
        "holding",
        "complete",
        "rolled-back-still-held",
        "failed",
    ],
)
def test_discovery_offers_what_can_apply_now(
    module: str, obj: dict[str, Any], enabled: set[str]
) -> None:
    actions = run(DISCOVERY, obj, module)
    assert set(actions) == set(ACTIONS)  # always the same menu, greyed out when moot
    assert {name for name, a in actions.items() if not a["disabled"]} == enabled


@pytest.mark.parametrize("module", RUNTIMES)
def test_extend_hold_asks_for_seconds(module: str) -> None:
    actions = run(DISCOVERY, release("Holding", **HELD), module)
    assert actions["extend-hold"]["params"] == [{"name": "seconds", "default": "600"}]


def annotation(obj: Mapping[str, Any]) -> str:
    return str(obj["metadata"]["annotations"][ACTION_ANNOTATION])


@pytest.mark.parametrize("module", RUNTIMES)
@pytest.mark.parametrize(
    ("name", "obj", "params", "verb", "argument"),
    [
        ("promote", release("AwaitingPromotion"), None, "promote", "77aa"),
        ("abort", release("Verifying"), None, "abort", ""),
        ("rollback", release("Holding", **HELD), None, "rollback", ""),
        ("extend-hold", release("Holding", **HELD), None, "extend-hold", "600"),
        ("extend-hold", release("Holding", **HELD), {"seconds": "900"}, "extend-hold", "900"),
        ("extend-hold", release("Holding", **HELD), {"seconds": " 5400 "}, "extend-hold", "5400"),
        ("extend-hold", release("Holding", **HELD), {"seconds": ""}, "extend-hold", "600"),
    ],
)
def test_actions_write_what_the_operator_accepts(
    module: str,
    name: str,
    obj: dict[str, Any],
    params: dict[str, str] | None,
    verb: str,
    argument: str,
) -> None:
    obj["metadata"]["annotations"] = {"team": "payments"}
    result = run(action(name), obj, module, params)
    value = annotation(result)
    parsed = parse_action(value)
    assert parsed is not None, value
    assert (parsed.verb, parsed.argument) == (verb, argument)
    assert argument_problem(parsed.verb, parsed.argument) is None
    assert value.split("@", 1)[1].startswith("argocd-")
    # Only the annotation changes: never the spec, which Git owns.
    assert result["metadata"]["annotations"]["team"] == "payments"
    assert result["spec"] == obj["spec"]
    assert result.get("status") == obj.get("status")


@pytest.mark.parametrize("module", RUNTIMES)
def test_an_action_adds_annotations_when_there_are_none(module: str) -> None:
    result = run(action("abort"), release("Verifying"), module)
    assert annotation(result).startswith("abort@argocd-")


@pytest.mark.parametrize("module", RUNTIMES)
@pytest.mark.parametrize(
    ("name", "obj", "params", "message"),
    [
        ("promote", release(None), None, "no revision in status"),
        ("promote", release("AwaitingPromotion", generation=4), None, "latest spec"),
        ("extend-hold", release("Holding", **HELD), {"seconds": "soon"}, "a whole number"),
        # Argo CD gives actions no string library to parse durations with.
        ("extend-hold", release("Holding", **HELD), {"seconds": "10m"}, "a whole number"),
        ("extend-hold", release("Holding", **HELD), {"seconds": "600.5"}, "a whole number"),
        ("extend-hold", release("Holding", **HELD), {"seconds": "0"}, "from 1 to 604800"),
        ("extend-hold", release("Holding", **HELD), {"seconds": "604801"}, "from 1 to 604800"),
    ],
)
def test_refused_actions_raise_a_message_for_the_ui(
    module: str, name: str, obj: dict[str, Any], params: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(argocd_lua.lua_error(module), match=message):
        run(action(name), obj, module, params)


def test_the_configmap_patch_holds_the_tested_scripts() -> None:
    patch = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())
    data = patch["data"]
    assert data[HEALTH_KEY] == (ARGOCD / "health.lua").read_text()
    actions = yaml.safe_load(data[ACTIONS_KEY])
    assert actions["discovery.lua"] == DISCOVERY
    assert [d["name"] for d in actions["definitions"]] == list(ACTIONS)
    for definition in actions["definitions"]:
        assert definition["action.lua"] == action(definition["name"])
