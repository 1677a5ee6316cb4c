"""RFC 7386 JSON merge patches computed from two documents (pure).

Status is written as a merge patch; a key that disappeared must be sent as an
explicit null, or the API server keeps the stale value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest merge patch turning ``old`` into ``new`` (empty when equal)."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif value is None and before is _MISSING:
            continue
        elif before != value:
            # Lists and scalars are replaced whole, as RFC 7386 prescribes.
            patch[key] = value
    return patch


_MISSING: Any = object()
