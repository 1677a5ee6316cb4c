"""What Terraform says it will do and has done, from its JSON documents.

- ``terraform show -json <planfile>`` (JSON output format 1.x): relied on
  ``format_version`` and ``resource_changes[].{address, change.actions}``,
  where ``actions`` is one of ["no-op"], ["create"], ["read"], ["update"],
  ["delete"], or a replacement ["delete", "create"] / ["create", "delete"].
  ``core.tfstate.unexpected_targets`` also reads ``change.before``.
- ``terraform output -json``: an object ``{name: {value, type, sensitive}}``;
  an output whose value is null or unknown is absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.core.infrastructure import InfrastructureInputs, InfrastructureOutputs

SUPPORTED_FORMAT_MAJOR = "1"
"""Terraform bumps the major of ``format_version`` only for incompatible changes."""

# Terraform's own words for each action, as its human plan prints them, so a
# drift summary reads the same as before and as an operator knows it.
_PHRASES = {
    ("create",): "will be created",
    ("read",): "will be read during apply",
    ("update",): "will be updated in-place",
    ("delete",): "will be destroyed",
    ("delete", "create"): "must be replaced",
    ("create", "delete"): "must be replaced",
}


@dataclass(frozen=True)
class ResourceChange:
    address: str
    actions: tuple[str, ...]

    def describe(self) -> str:
        """``<address> <what happens>``, e.g. ``kubernetes_service_v1.stable will be
        updated in-place``."""
        phrase = _PHRASES.get(self.actions) or f"will change ({', '.join(self.actions)})"
        return f"{self.address} {phrase}"


def resource_changes(plan: Mapping[str, Any]) -> list[ResourceChange]:
    """Every resource the plan would act on (no-ops left out), in the plan's order."""
    check_format(plan)
    changes = []
    for entry in plan.get("resource_changes") or []:
        if not isinstance(entry, Mapping):
            continue
        actions = tuple(str(a) for a in (entry.get("change") or {}).get("actions") or ())
        if actions and actions != ("no-op",):
            changes.append(ResourceChange(str(entry.get("address")), actions))
    return changes


def describe_changes(plan: Mapping[str, Any]) -> str:
    """The plan's changes in one line, "" when it changes no resource (outputs only)."""
    return "; ".join(change.describe() for change in resource_changes(plan))


def check_format(plan: Mapping[str, Any]) -> None:
    """Refuse a plan document in a format this adapter was not written for."""
    version = str(plan.get("format_version") or "")
    if version.split(".", 1)[0] != SUPPORTED_FORMAT_MAJOR:
        raise InfrastructureError(
            f"terraform show -json printed plan format {version or 'unknown'}; "
            f"this operator reads format {SUPPORTED_FORMAT_MAJOR}.x"
        )


def outputs(raw: Mapping[str, Any], inputs: InfrastructureInputs) -> InfrastructureOutputs:
    """The module's outputs from ``terraform output -json``; names fall back to the inputs."""

    def value(name: str) -> str | None:
        entry = raw.get(name)
        found = entry.get("value") if isinstance(entry, Mapping) else None
        return str(found) if found not in (None, "") else None

    return InfrastructureOutputs(
        stable_service=value("stable_service_name") or inputs.service_name,
        preview_service=value("preview_service_name") or inputs.preview_service_name,
        stable_cluster_ip=value("stable_cluster_ip"),
        preview_cluster_ip=value("preview_cluster_ip"),
    )
