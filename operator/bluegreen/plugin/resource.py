"""Names and typed accessors for a BlueGreenRelease seen as plain JSON.

The plugin reads whatever the API server returns, which may be older or newer
than this code; accessors therefore tolerate missing or mistyped fields
instead of failing on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bluegreen.api.conditions import ConditionStatus
from bluegreen.api.enums import FAILED_PHASES
from bluegreen.api.timefmt import parse_time_or_none as parse_time
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION, GROUP, KIND, PLURAL, VERSION

# Re-exported: the plugin's modules and tests read the API's names from here.
__all__ = [
    "ACTION_ANNOTATION",
    "FAILED_PHASES",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Obj",
    "condition",
    "condition_is_true",
    "generation",
    "integer",
    "is_current",
    "mapping",
    "mappings",
    "observed_generation",
    "parse_time",
    "status",
    "text",
]

Obj = Mapping[str, Any]


def mapping(value: object) -> Obj:
    return value if isinstance(value, Mapping) else {}


def mappings(value: object) -> list[Obj]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def text(value: object, default: str = "") -> str:
    if value is None or value == "":
        return default
    return str(value)


def integer(value: object) -> int | None:
    # bool is an int subclass; a boolean generation would be a bug, not a number.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def status(obj: Obj) -> Obj:
    return mapping(obj.get("status"))


def generation(obj: Obj) -> int | None:
    return integer(mapping(obj.get("metadata")).get("generation"))


def observed_generation(obj: Obj) -> int | None:
    return integer(status(obj).get("observedGeneration"))


def is_current(obj: Obj) -> bool:
    """Whether status describes the spec the API server holds now."""
    observed = observed_generation(obj)
    return observed is not None and observed == generation(obj)


def condition(obj: Obj, type_: str) -> Obj | None:
    for item in mappings(status(obj).get("conditions")):
        if item.get("type") == type_:
            return item
    return None


def condition_is_true(obj: Obj, type_: str) -> bool:
    found = condition(obj, type_)
    return found is not None and found.get("status") == ConditionStatus.TRUE
