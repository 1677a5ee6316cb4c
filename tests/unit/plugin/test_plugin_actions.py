"""Human actions and the wait verdict: pure rules behind the plugin's commands."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_samples import holding, with_condition, with_status

from bluegreen.core import names
from bluegreen.core.human_actions import parse_action
from bluegreen.plugin import actions
from bluegreen.plugin.resource import ACTION_ANNOTATION
from bluegreen.plugin.verdict import ExitCode, Verdict, exit_code, verdict


def awaiting() -> dict[str, Any]:
    return with_status(holding(), phase="AwaitingPromotion", revision="77aa")


def test_promote_approves_exactly_the_reported_revision() -> None:
    assert actions.promote(awaiting()) == "promote:77aa"
    assert actions.promote_warning(awaiting()) is None


def test_promote_refuses_without_a_revision() -> None:
    obj = holding()
    del obj["status"]["revision"]
    with pytest.raises(actions.ActionError, match="no revision"):
        actions.promote(obj)


def test_promote_refuses_a_stale_status() -> None:
    obj = awaiting()
    obj["metadata"]["generation"] = 8
    with pytest.raises(actions.ActionError, match="observedGeneration"):
        actions.promote(obj)


def test_promote_outside_the_gate_warns() -> None:
    warning = actions.promote_warning(holding())
    assert warning is not None and "Holding" in warning


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("600", 600), ("600s", 600), ("10m", 600), ("1h30m", 5400), ("2h", 7200), (" 90s ", 90)],
)
def test_parse_seconds(value: str, seconds: int) -> None:
    assert actions.parse_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "0", "0s", "-5", "1h30", "ten", "5d", "1.5m", "²"])
def test_parse_seconds_rejects(value: str) -> None:
    with pytest.raises(actions.ActionError):
        actions.parse_seconds(value)


def test_extend_hold() -> None:
    assert actions.extend_hold(300) == "extend-hold:300"
    with pytest.raises(actions.ActionError):
        actions.extend_hold(0)


def test_patch_touches_only_the_action_annotation() -> None:
    patch = actions.annotation_patch("abort", "n1")
    assert patch == {"metadata": {"annotations": {"bluegreen.dev/action": "abort@n1"}}}


@pytest.mark.parametrize("nonce", ["", "a@b"])
def test_patch_rejects_a_nonce_that_would_garble_the_value(nonce: str) -> None:
    with pytest.raises(actions.ActionError):
        actions.annotation_patch("abort", nonce)


@pytest.mark.parametrize(
    ("action", "verb", "argument"),
    [
        (actions.promote(awaiting()), "promote", "77aa"),
        (actions.abort(), "abort", ""),
        (actions.rollback(), "rollback", ""),
        (actions.extend_hold(600), "extend-hold", "600"),
    ],
)
def test_the_operator_understands_what_the_plugin_writes(
    action: str, verb: str, argument: str
) -> None:
    value = actions.annotation_patch(action, "c0ffee")["metadata"]["annotations"][ACTION_ANNOTATION]
    parsed = parse_action(value)
    assert parsed is not None
    assert (parsed.verb, parsed.argument) == (verb, argument)


def test_annotation_name_matches_the_operator() -> None:
    assert ACTION_ANNOTATION == names.ACTION_ANNOTATION


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return with_condition(with_status(obj, phase="Complete"), "Ready", "True")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(holding(), Verdict.PENDING, id="holding"),
        pytest.param(ready(holding()), Verdict.READY, id="ready"),
        pytest.param(with_status(holding(), phase="Failed"), Verdict.FAILED, id="failed"),
        pytest.param(with_status(holding(), phase="RolledBack"), Verdict.FAILED, id="rolled-back"),
        pytest.param(
            with_condition(ready(holding()), "Stalled", "True"), Verdict.FAILED, id="stalled-wins"
        ),
        pytest.param(
            with_status(ready(holding()), observedGeneration=6), Verdict.PENDING, id="stale-ready"
        ),
        pytest.param(
            with_status(holding(), phase="Failed", observedGeneration=6),
            Verdict.PENDING,
            id="stale-failure",
        ),
        pytest.param({"metadata": {"generation": 1}}, Verdict.PENDING, id="no-status"),
        pytest.param(
            with_status(ready(holding()), observedGeneration="7"), Verdict.PENDING, id="string-gen"
        ),
    ],
)
def test_verdict(obj: dict[str, Any], expected: Verdict) -> None:
    assert verdict(obj) is expected


def test_exit_codes() -> None:
    # The numbers are the plugin's contract with scripts and CI, not just names.
    assert [int(exit_code(v)) for v in (Verdict.READY, Verdict.FAILED, Verdict.PENDING)] == [
        0,
        1,
        2,
    ]
    assert int(ExitCode.ERROR) == 3
