"""The bundled module's source: its digest and the variables it declares.

Read once at start-up, before Terraform runs. This parses HCL source, not
Terraform output: Terraform 1.5 has no JSON view of a module's variables short
of a plan (``terraform show -json`` lists them under
``configuration.root_module.variables``, which the unit tests compare with
what this module reads from the same files).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

LOCK_FILE = ".terraform.lock.hcl"

_VARIABLE_BLOCK = re.compile(r'^variable\s+"([^"]+)"\s*\{(.*?)^\}', re.M | re.S)
_SENSITIVE_ATTR = re.compile(r"^\s*sensitive\s*=\s*true\s*$", re.M)


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

    A regex, not an HCL parser: enough for ``terraform fmt``-formatted files
    (``hack/lint-terraform.sh`` enforces that), where a block's closing brace
    is alone at column 0.
    """
    found: dict[str, bool] = {}
    for text in sources:
        for match in _VARIABLE_BLOCK.finditer(text):
            found[match.group(1)] = bool(_SENSITIVE_ATTR.search(match.group(2)))
    return found


def module_variables(module_dir: Path) -> dict[str, bool]:
    """``declared_variables`` of the module's ``.tf`` files."""
    return declared_variables(p.read_text() for p in module_files(module_dir) if p.suffix == ".tf")
