"""Pure helpers of the Terraform adapter: module digests, error text, lock info.

No subprocess and no python-terraform here, so all of it is unit-tested
without the Terraform CLI.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

LOCK_FILE = ".terraform.lock.hcl"

# Names that look secret even when the module does not mark them sensitive:
# user variables pass straight through, and a leaked token in a CR's status
# is worse than a redacted port number.
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|credential|private[_-]?key|api[_-]?key", re.I)
_VARIABLE_BLOCK = re.compile(r'^variable\s+"([^"]+)"\s*\{(.*?)^\}', re.M | re.S)
_SENSITIVE_ATTR = re.compile(r"^\s*sensitive\s*=\s*true\s*$", re.M)
_BOX = re.compile(r"^[\u2502\u2577\u2575\u251c\u2570\u256d]\s?")
# Source snippets Terraform prints under a diagnostic ("  12:   type = ..."):
# they may quote a tfvars line, i.e. a value, and never help a status reader.
_SNIPPET = re.compile(r"^\s*(\d+:|\u251c|\u2502\s+var\.|on \S+ line \d+)")
_LOCK_ID = re.compile(r"^\s*ID:\s+(\S+)\s*$", re.M)
_LOCK_CREATED = re.compile(
    r"^\s*Created:\s+(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))? ([+-]\d{4})", re.M
)
_PLAN_LINE = re.compile(r"^\s*# (\S+) (will be|must be) (.+?)\s*$", re.M)
REDACTED = "(sensitive value)"


def module_files(module_dir: Path) -> list[Path]:
    """The files that define the module: its ``.tf`` files and the lock file, sorted."""
    files = sorted(p for p in module_dir.glob("*.tf") if p.is_file())
    lock = module_dir / LOCK_FILE
    if lock.is_file():
        files.append(lock)
    return files


def module_checksum(module_dir: Path) -> str:
    """sha256 over every module file's name and content, in a fixed order.

    Names are hashed too so that renaming a file (which can change what
    Terraform loads, e.g. ``*_override.tf``) changes the digest.
    """
    files = module_files(module_dir)
    if not any(p.suffix == ".tf" for p in files):
        raise FileNotFoundError(f"no .tf files in {module_dir}")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def declared_variables(sources: Iterable[str]) -> dict[str, bool]:
    """Variable names declared in the module's sources, mapped to "is sensitive".

    A regex, not an HCL parser: enough for ``terraform fmt``-formatted files,
    where a block's closing brace is alone at column 0.
    """
    found: dict[str, bool] = {}
    for text in sources:
        for match in _VARIABLE_BLOCK.finditer(text):
            found[match.group(1)] = bool(_SENSITIVE_ATTR.search(match.group(2)))
    return found


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


def summarize_error(stderr: str, secrets: Iterable[str] = (), max_lines: int = 4) -> str:
    """A one-line, secret-free summary of a Terraform failure for status and events.

    Keeps the first ``Error:`` diagnostic and the lines after it, drops box
    drawing, blank lines and source snippets.
    """
    lines = [_BOX.sub("", line).rstrip() for line in stderr.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("Error:")), 0)
    kept: list[str] = []
    for line in lines[start:]:
        stripped = line.strip()
        if not stripped or _SNIPPET.match(line) or set(stripped) <= set("\u2577\u2575\u2502"):
            continue
        if stripped.startswith("This was checked by the validation rule"):
            continue
        kept.append(" ".join(stripped.split()))
        if len(kept) == max_lines:
            break
    summary = " ".join(kept) if kept else "terraform failed without an error message"
    return scrub(summary, secrets)[:600]


def _unboxed(text: str) -> str:
    """Terraform draws a box around diagnostics unless ``-no-color``; drop it."""
    return "\n".join(_BOX.sub("", line) for line in text.splitlines())


def is_lock_error(stderr: str) -> bool:
    return "Error acquiring the state lock" in stderr


def lock_id(stderr: str) -> str | None:
    """The ID of the lock that blocked us, from the ``Lock Info:`` block."""
    match = _LOCK_ID.search(_unboxed(stderr))
    return match.group(1) if match else None


def lock_created(stderr: str) -> datetime | None:
    """When the blocking lock was taken (Go's ``time.Time`` format, e.g.
    ``2026-11-26 07:01:02.123456789 +0000 UTC``)."""
    match = _LOCK_CREATED.search(_unboxed(stderr))
    if not match:
        return None
    day, clock, fraction, offset = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    return datetime.strptime(f"{day} {clock}.{micros} {offset}", "%Y-%m-%d %H:%M:%S.%f %z")


def plan_changes(plan_stdout: str) -> list[str]:
    """``<address> will be <action>`` for each resource a plan would change."""
    return [f"{m.group(1)} {m.group(2)} {m.group(3)}" for m in _PLAN_LINE.finditer(plan_stdout)]
