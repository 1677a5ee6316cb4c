"""Typed readers of a raw spec's JSON: each returns the value or raises SpecError."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bluegreen.api.conditions import Reason
from bluegreen.api.limits import DNS_LABEL_MAX_CHARS, DNS_LABEL_PATTERN
from bluegreen.core.errors import SpecError

_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)


def read_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(Reason.INVALID_SPEC, f"{where} must be an object")
    return value


def read_int(value: Any, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(Reason.INVALID_SPEC, f"{where} must be an integer")
    if minimum is not None and value < minimum:
        raise SpecError(Reason.INVALID_SPEC, f"{where} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise SpecError(Reason.INVALID_SPEC, f"{where} must be at most {maximum}")
    return value


def check_dns_label(value: str, where: str) -> None:
    if not value or len(value) > DNS_LABEL_MAX_CHARS or not _DNS_LABEL.match(value):
        raise SpecError(Reason.INVALID_NAME, f"{where} must be a DNS label (got {value!r})")
