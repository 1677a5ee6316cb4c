"""Terraform's errors and warnings ("diagnostics"), read from JSON wherever Terraform prints it.

Two sources, one shape (``Diagnostic``):

- ``from_json_stream``: commands run with ``-json`` (plan, apply, destroy)
  print Terraform's machine-readable UI on stdout, one JSON object per line.
  Relied on: ``type`` ("diagnostic" for these), ``@level`` ("error", "warn")
  and ``diagnostic.{severity, summary, detail, address}``.
- ``from_text``: Terraform 1.5's ``init``, ``import``, ``state rm`` and
  ``force-unlock`` have no ``-json``, and a ``-json`` command that fails
  before it sets up its JSON view (a crash, a broken plugin) prints human text
  on stderr. A small parser of that rendering (``Error: <summary>``, then the
  detail) serves those cases only.

Source snippets (``diagnostic.snippet``, the ``on <file> line <n>:`` block of
the text form) are never read: they can quote a variable's value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bluegreen.adapters.terraform.redaction import scrub

MAX_SUMMARY_CHARS = 600
"""Bound of a failure's summary, which ends up in status conditions and events."""
LOCK_ERROR_SUMMARY = "Error acquiring the state lock"

_LEVELS = {"error": "error", "warn": "warning", "warning": "warning"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Without -no-color Terraform draws a box around each diagnostic.
_BOX = re.compile(r"^[\u2502\u2577\u2575\u251c\u2570\u256d]\s?")
_HEADING = re.compile(r"^(Error|Warning): (.*)$")
_SNIPPET = re.compile(r"^\s*(\d+:|\u251c|\u2502|on \S+ line \d+)")


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    """"error" or "warning"."""
    summary: str
    detail: str = ""
    address: str = ""
    """The resource it is about, when Terraform says (JSON form only)."""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def one_line(self) -> str:
        """``[address: ]summary[: first paragraph of the detail]`` on one line.

        The first paragraph carries the message (a validation rule's
        ``error_message``, a provider's reason); later ones are Terraform's
        boilerplate ("This was checked by the validation rule at ...").
        """
        summary = " ".join(self.summary.split())
        first_paragraph = " ".join(self.detail.strip().split("\n\n", 1)[0].split())
        if first_paragraph:
            # "Invalid value for variable: <why>", but "... configuration. <why>".
            joint = " " if summary.endswith((".", ":", "!", "?")) else ": "
            summary = f"{summary}{joint}{first_paragraph}" if summary else first_paragraph
        return f"{self.address}: {summary}" if self.address else summary


def from_json_stream(stdout: str) -> list[Diagnostic]:
    """The diagnostics in a ``-json`` command's output; lines that are not JSON are skipped."""
    found = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or message.get("type") != "diagnostic":
            continue
        body = message.get("diagnostic")
        if not isinstance(body, dict):
            continue
        level = str(body.get("severity") or message.get("@level") or "error")
        found.append(
            Diagnostic(
                severity=_LEVELS.get(level, level),
                summary=str(body.get("summary") or ""),
                detail=str(body.get("detail") or ""),
                address=str(body.get("address") or ""),
            )
        )
    return found


def from_text(text: str) -> list[Diagnostic]:
    """The diagnostics in Terraform's human rendering (``-no-color`` or not).

    Text before the first ``Error:``/``Warning:`` heading is ignored unless
    there is no heading at all (e.g. "Error parsing command-line flags: ..."),
    which becomes one error with the first line as its summary.
    """
    lines = [_BOX.sub("", _ANSI.sub("", line)).rstrip() for line in text.splitlines()]
    blocks: list[tuple[str, str, list[str]]] = []
    for line in lines:
        heading = _HEADING.match(line.strip())
        if heading:
            blocks.append((heading.group(1).lower(), heading.group(2), []))
        elif blocks and not _SNIPPET.match(line):
            blocks[-1][2].append(line.strip())
    if not blocks:
        meaningful = [line.strip() for line in lines if line.strip()]
        if not meaningful:
            return []
        return [Diagnostic("error", meaningful[0], "\n".join(meaningful[1:]))]
    return [
        Diagnostic(severity, summary, _paragraphs(detail)) for severity, summary, detail in blocks
    ]


def _paragraphs(lines: Sequence[str]) -> str:
    """Rejoin detail lines, one blank line between paragraphs, none around."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def is_lock_error(diagnostics: Iterable[Diagnostic]) -> bool:
    """Whether Terraform gave up because another client holds the state lock.

    Commands that lock say so in their summary; ``init`` creating a release's
    first state takes the lock too, and reports the backend's own words
    ("Error loading state: the state is already locked ...").
    """
    return any(
        d.is_error and (d.summary == LOCK_ERROR_SUMMARY or _LOCK_HELD in f"{d.summary} {d.detail}")
        for d in diagnostics
    )


_LOCK_HELD = "already locked by another terraform client"


def failure_summary(
    diagnostics: Sequence[Diagnostic],
    secrets: Iterable[str] = (),
    limit: int = MAX_SUMMARY_CHARS,
) -> str:
    """One line for status and events: the first error, how many more, no secrets.

    Secrets are replaced before the text is cut, so a cut never leaves the
    start of a secret behind.
    """
    errors = [d for d in diagnostics if d.is_error] or list(diagnostics)
    if not errors:
        return "terraform failed without an error message"
    first = errors[0].one_line()
    others = len({d.one_line() for d in errors[1:]} - {first})
    text = first + (f" (and {others} more error{'s' if others > 1 else ''})" if others else "")
    return bounded(scrub(text, secrets), limit)


def bounded(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
