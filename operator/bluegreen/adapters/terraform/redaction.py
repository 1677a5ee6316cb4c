"""Keeping variable values out of what Terraform failures say in status and events."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "(sensitive value)"

# Names that look secret even when the module does not mark them sensitive:
# user variables pass straight through, and a leaked token in a CR's status
# is worse than a redacted port number.
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|credential|private[_-]?key|api[_-]?key", re.I)


def sensitive_values(variables: Mapping[str, Any], sensitive_names: Iterable[str]) -> list[str]:
    """Every string worth redacting: values of sensitive or secret-looking variables."""
    names = set(sensitive_names)
    values: list[str] = []
    for name, value in variables.items():
        if name in names or _SECRET_NAME.search(name):
            values.extend(_strings(value))
    # Longest first, so a secret that contains another is redacted whole.
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


def _strings(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, bool) or value is None:
        return []
    return [str(value)]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text``."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text
