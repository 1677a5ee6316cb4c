"""Status blocks round-trip through the camelCase dicts the API server stores."""

from __future__ import annotations

from bluegreen.core.status import (
    ActiveRevision,
    Candidate,
    CheckStatus,
    Condition,
    HistoryEntry,
    LastAction,
    Previous,
)


def test_flat_blocks_round_trip_in_camel_case() -> None:
    condition = Condition("Ready", "True", "Released", "ok", "2026-01-01T00:00:00Z", 7)
    assert condition.to_dict()["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert condition.to_dict()["observedGeneration"] == 7
    check = CheckStatus("home", "smoke", "http", "abc", "Passed", 2, "GET /: 200", "t", 3)
    history = HistoryEntry("abc", "shop:v2", "s", "f", "Promoted")
    action = LastAction("promote", "promote:abc@1", "t", "Approved revision abc", "abc")
    for block in (condition, check, history, action):
        assert type(block).from_dict(block.to_dict()) == block


def test_missing_keys_take_defaults_and_types_are_coerced() -> None:
    check = CheckStatus.from_dict({"name": "home", "attempts": "2"})
    assert check.attempts == 2 and check.run == 0 and check.phase == ""


def test_revision_blocks_round_trip_and_leave_out_empty_fields() -> None:
    active = ActiveRevision("abc", "shop-abc", "shop:v2", 3, 0)
    assert active.to_dict() == {
        "revision": "abc",
        "deployment": "shop-abc",
        "image": "shop:v2",
        "replicas": 3,
        "readyReplicas": 0,
        "restarts": 0,
    }
    candidate = Candidate("def", "shop-def", "shop:v3", 3, "d", "s", 2, "r")
    held = Previous("abc", "shop-abc", "shop:v2", "t")
    draining = Previous("abc", "shop-abc", "shop:v2", "t", draining=True)
    assert "draining" not in held.to_dict() and draining.to_dict()["draining"] is True
    for block in (active, candidate, held, draining):
        assert type(block).from_dict(block.to_dict()) == block
    assert ActiveRevision.from_dict({"revision": "abc", "replicas": "3"}).replicas == 3
