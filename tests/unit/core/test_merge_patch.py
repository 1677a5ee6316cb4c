from __future__ import annotations

from typing import Any

import pytest

from bluegreen.core.merge_patch import merge_patch


def apply(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 application, to check that the computed patch really does its job."""
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = apply(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({}, {}, {}),
        ({"a": 1}, {"a": 1}, {}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        (
            {"i": {"message": "boom", "applied": True}},
            {"i": {"applied": True}},
            {"i": {"message": None}},
        ),
        ({"l": [1, 2]}, {"l": [1]}, {"l": [1]}),
        ({}, {"active": None}, {}),
        ({"active": {"revision": "a"}}, {"active": None}, {"active": None}),
    ],
)
def test_merge_patch(old: dict[str, Any], new: dict[str, Any], expected: dict[str, Any]) -> None:
    patch = merge_patch(old, new)
    assert patch == expected
    cleaned_new = {k: v for k, v in new.items() if v is not None}
    assert apply(old, patch) == cleaned_new
