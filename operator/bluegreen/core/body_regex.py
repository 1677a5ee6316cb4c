"""Body regexes with RE2 semantics: matching time is linear in the body's length.

Release authors write these patterns and the operator runs them on its event
loop, so a backtracking engine (``re``) would let a pattern like ``(a+)+$``
stall every release at once. RE2 has no backreferences or lookarounds; a
pattern that needs them is rejected at parse time, not run slowly.

``google-re2`` ships no type information: this module is its only importer
and gives the rest of the code a typed surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]  # no stubs; typed by this wrapper

MAX_ERROR_CHARS = 120
"""RE2's own error text is kept (it says what is wrong) but bounded."""


class BodyRegexError(ValueError):
    """The pattern is not valid RE2; the message is RE2's reason, bounded."""


@dataclass(frozen=True)
class BodyRegex:
    pattern: str
    _compiled: Any

    def search(self, text: str) -> bool:
        return self._compiled.search(text) is not None


def _options() -> Any:
    options = re2.Options()
    # RE2 logs every parse error to stderr through absl; the error is reported
    # to the caller instead, and the operator's log must not carry user input.
    options.log_errors = False
    return options


def compile_body_regex(pattern: str) -> BodyRegex:
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as err:
        raise BodyRegexError(_reason(err)) from None
    return BodyRegex(pattern, compiled)


def _reason(err: Exception) -> str:
    raw = err.args[0] if err.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text[:MAX_ERROR_CHARS]
