"""Parsing of a spec's migration hooks (``spec.hooks``), every field bounded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bluegreen.api import defaults
from bluegreen.api.conditions import Reason
from bluegreen.api.enums import HookPoint
from bluegreen.api.hooks import Hook, HooksSpec
from bluegreen.api.limits import HOOK_RETRIES_MAX, HOOK_TIMEOUT_MAX, HOOK_TIMEOUT_MIN, MAX_HOOKS
from bluegreen.core.errors import SpecError
from bluegreen.core.spec_read import check_dns_label, read_int, read_mapping

_POINTS = (
    (HookPoint.PRE_SWITCH, "pre_switch"),
    (HookPoint.POST_SWITCH, "post_switch"),
    (HookPoint.POST_CLEANUP, "post_cleanup"),
)


def parse_hooks(raw: Any) -> HooksSpec:
    hooks = read_mapping(raw or {}, "spec.hooks")
    lists = {field: _hook_list(hooks.get(key) or [], f"spec.hooks.{key}") for key, field in _POINTS}
    return HooksSpec(**lists)


def _hook_list(raw: Any, where: str) -> tuple[Hook, ...]:
    if not isinstance(raw, list):
        raise SpecError(Reason.INVALID_HOOK, f"{where} must be a list")
    if len(raw) > MAX_HOOKS:
        raise SpecError(Reason.INVALID_HOOK, f"{where} may list at most {MAX_HOOKS} hooks")
    hooks = tuple(_hook(read_mapping(item, where), where) for item in raw)
    names = [h.name for h in hooks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(Reason.INVALID_HOOK, f"{where}: hook names must be unique: {duplicates}")
    return hooks


def _hook(raw: Mapping[str, Any], where: str) -> Hook:
    name = str(raw.get("name") or "")
    check_dns_label(name, f"{where}[].name")
    template = raw.get("template")
    if not isinstance(template, Mapping):
        raise SpecError(Reason.INVALID_HOOK, f"{where} '{name}': template must be a JobSpec")
    return Hook(
        name=name,
        template=template,
        timeout_seconds=_int(
            raw.get("timeoutSeconds", defaults.HOOK_TIMEOUT_SECONDS),
            f"{where} '{name}': timeoutSeconds",
            HOOK_TIMEOUT_MIN,
            HOOK_TIMEOUT_MAX,
        ),
        retries=_int(
            raw.get("retries", defaults.HOOK_RETRIES),
            f"{where} '{name}': retries",
            0,
            HOOK_RETRIES_MAX,
        ),
    )


def _int(value: Any, where: str, minimum: int, maximum: int) -> int:
    try:
        return read_int(value, where, minimum=minimum, maximum=maximum)
    except SpecError as err:
        raise SpecError(Reason.INVALID_HOOK, err.message) from None
