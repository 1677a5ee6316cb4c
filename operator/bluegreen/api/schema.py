"""Kubernetes structural schemas from typed models: the generator behind ``crd``.

A model field declares what its type cannot say with
``field(metadata=doc("description", minimum=..., rules=...))``; its type says
the rest (``str`` -> string, ``int`` -> int32, ``tuple[X, ...]`` -> array of X,
a nested dataclass -> object, ``int | str`` -> int-or-string). Field names
become camelCase properties, as ``to_dict`` writes them.

Inputs (the spec) and outputs (status) differ on purpose: an input schema
carries defaults (the field's default) and required fields (those without a
default), which the API server applies to what humans write; an output schema
carries neither, so a status write is never refused or altered for a field the
operator left out.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final, TypedDict, Unpack, get_args, get_origin, get_type_hints

Schema = dict[str, Any]
_DOC_KEY: Final = "bluegreen.api/doc"
_UNSET: Final[Any] = object()


@dataclasses.dataclass(frozen=True)
class Rule:
    """A CEL validation rule; the message is what a refused ``kubectl apply`` shows."""

    rule: str
    message: str
    field_path: str = ""

    def to_schema(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        return out | {"fieldPath": self.field_path} if self.field_path else out


class Constraints(TypedDict, total=False):
    minimum: int
    maximum: int
    max_length: int
    max_items: int
    max_properties: int
    pattern: str
    enum: Iterable[str]
    format: str
    nullable: bool
    default: Any
    """Overrides the field's default, for a default the model cannot carry."""
    rules: tuple[Rule, ...]
    required: tuple[str, ...]
    """Overrides the required properties derived from the model."""
    list_map_keys: tuple[str, ...]
    items: Doc
    """Description and constraints of a list's items."""
    preserve_unknown: bool
    """An object checked only in part here (a pod template): keep what is not declared."""
    additional: Schema
    """The schema of every value of a map."""


@dataclasses.dataclass(frozen=True)
class Doc:
    """A field's description, and the constraints its type cannot say."""

    description: str
    constraints: Constraints


def doc(description: str, **constraints: Unpack[Constraints]) -> Mapping[str, Doc]:
    """Field metadata: the field's description and constraints in the CRD."""
    return {_DOC_KEY: Doc(description, constraints)}


def item_doc(description: str = "", **constraints: Unpack[Constraints]) -> Doc:
    """The ``items`` constraint of a list field."""
    return Doc(description, constraints)


def object_schema(model: type, *, as_input: bool, description: str = "") -> Schema:
    """The object schema of a dataclass: one property per field, in field order."""
    hints = get_type_hints(model)
    fields = dataclasses.fields(model)
    properties = {camel(f.name): _field(f, hints[f.name], as_input) for f in fields}
    schema: Schema = {"description": description, "type": "object"}
    required = [camel(f.name) for f in fields if as_input and _required(f)]
    if required:
        schema["required"] = required
    return _tidy(schema | {"properties": properties})


def field_schema(model: type, name: str, *, as_input: bool) -> Schema:
    """One field's schema, for a model whose fields live elsewhere on the wire."""
    (found,) = (f for f in dataclasses.fields(model) if f.name == name)
    return _field(found, get_type_hints(model)[name], as_input)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def obj(
    description: str,
    properties: Mapping[str, Schema] | None = None,
    **constraints: Unpack[Constraints],
) -> Schema:
    """An object the models do not describe by themselves (a wire-only grouping, a map)."""
    schema: Schema = {"type": "object"} | ({"properties": dict(properties)} if properties else {})
    return _tidy(_constrain(schema, Doc(description, constraints)))


def array(description: str, of: Schema, **constraints: Unpack[Constraints]) -> Schema:
    """A list of ``of``, for lists the models do not describe (a pod's containers)."""
    return _tidy(_constrain({"type": "array", "items": of}, Doc(description, constraints)))


def _field(f: dataclasses.Field[Any], hint: Any, as_input: bool) -> Schema:
    described = f.metadata.get(_DOC_KEY)
    if not isinstance(described, Doc):
        raise TypeError(f"field {f.name} has no doc(): every CRD field is described")
    schema = _constrain(_type_schema(hint, described, as_input), described)
    if "default" not in described.constraints and as_input and _plain(f.default):
        schema["default"] = _wire(f.default)
    return _tidy(schema)


def _type_schema(hint: Any, described: Doc, as_input: bool) -> Schema:
    args = tuple(a for a in get_args(hint) if a is not types.NoneType)
    if isinstance(hint, types.UnionType) and set(args) == {int, str}:
        return {"x-kubernetes-int-or-string": True}
    if isinstance(hint, types.UnionType) and len(args) == 1:
        return _type_schema(args[0], described, as_input)
    origin = get_origin(hint)
    if origin is tuple:
        items = described.constraints.get("items", Doc("", {}))
        return {"type": "array", "items": _constrain(_type_schema(args[0], items, as_input), items)}
    if origin is Mapping:
        if args[1] is Any:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return {"type": "object", "additionalProperties": _type_schema(args[1], described, False)}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return object_schema(hint, as_input=as_input)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return {"type": "string", "enum": [str(v) for v in hint]}
    scalars: dict[Any, Schema] = {
        str: {"type": "string"},
        bool: {"type": "boolean"},
        int: {"type": "integer", "format": "int32"},
        float: {"type": "number"},
    }
    if hint not in scalars:
        raise TypeError(f"no CRD schema for {hint!r}")
    return dict(scalars[hint])


_KEYWORDS: Final = {
    "minimum": "minimum",
    "maximum": "maximum",
    "max_length": "maxLength",
    "max_items": "maxItems",
    "max_properties": "maxProperties",
    "pattern": "pattern",
    "format": "format",
    "nullable": "nullable",
    "default": "default",
    "required": "required",
}


def _constrain(schema: Schema, described: Doc) -> Schema:
    out = dict(schema)
    if described.description:
        out["description"] = described.description
    given = described.constraints
    for key, keyword in _KEYWORDS.items():
        if key in given:
            out[keyword] = _wire(given[key])  # type: ignore[literal-required]  # keys of _KEYWORDS
    if "enum" in given:
        out["enum"] = [str(v) for v in given["enum"]]
    if "rules" in given:
        out["x-kubernetes-validations"] = [r.to_schema() for r in given["rules"]]
    if "preserve_unknown" in given:
        out["x-kubernetes-preserve-unknown-fields"] = given["preserve_unknown"]
    if "additional" in given:
        out["additionalProperties"] = given["additional"]
    if "list_map_keys" in given:
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = list(given["list_map_keys"])
    return out


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _plain(value: Any) -> bool:
    """A default the CRD can declare: a scalar, not None nor a missing default."""
    return isinstance(value, str | int | float | bool)


def _wire(value: Any) -> Any:
    """Plain YAML types only: enum members become their string, tuples lists."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, tuple | list):
        return [_wire(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    return value


_ORDER: Final = (
    "description",
    "type",
    "format",
    "nullable",
    "x-kubernetes-int-or-string",
    "enum",
    "minimum",
    "maximum",
    "maxLength",
    "maxItems",
    "maxProperties",
    "pattern",
    "default",
    "required",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-validations",
    "additionalProperties",
    "items",
    "properties",
)


def ordered(schema: Schema) -> Schema:
    """``schema`` and every schema under it with keys in one reading order."""
    out = _tidy(schema)
    if "properties" in out:
        out["properties"] = {k: ordered(v) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = ordered(out[key])
    return out


def _tidy(schema: Schema) -> Schema:
    """Keys in one reading order (description first, children last); no empty description."""
    unknown = set(schema) - set(_ORDER)
    if unknown:
        raise ValueError(f"unknown schema keywords {sorted(unknown)}")
    return {k: schema[k] for k in _ORDER if k in schema and schema[k] != ""}
