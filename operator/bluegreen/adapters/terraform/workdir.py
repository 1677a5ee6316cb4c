"""One release's Terraform working directory: module copy, private inputs, init state.

Plain filesystem work, no Terraform: kept apart so the adapter reads as the
sequence of Terraform commands it runs. It runs on the event loop: a few KB of
files (``.terraform/`` holds only symlinks into the read-only provider mirror).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bluegreen.adapters.terraform.module import module_files

VAR_FILE = "inputs.tfvars.json"
PLAN_FILE = "changes.tfplan"
_MODULE_MARK = ".module-checksum"
_INIT_MARK = ".init-fingerprint"


class ReleaseDir:
    """``<work_root>/<state key>``: mode 0700, the module files, nothing secret at rest."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def prepare(cls, work_root: Path, key: str, module_dir: Path, checksum: str) -> ReleaseDir:
        """The directory with the current module files; replaced when the module changed."""
        path = work_root / key
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        release_dir = cls(path)
        mark = path / _MODULE_MARK
        if not mark.exists() or mark.read_text() != checksum:
            # Stale files must go too: a .tf file dropped from the module
            # would otherwise still be loaded.
            for old in path.glob("*.tf"):
                old.unlink()
            for source in module_files(module_dir):
                shutil.copyfile(source, path / source.name)
            release_dir.forget_init()
            mark.write_text(checksum)
        return release_dir

    def write_inputs(self, variables: Mapping[str, Any]) -> None:
        # One variable per line: a diagnostic that quotes a line of this file
        # quotes one value, not all of them (and summaries drop quotes anyway).
        write_private(self.path / VAR_FILE, json.dumps(variables, indent=2, sort_keys=True))

    def clean_inputs(self) -> None:
        """Remove the variables and the saved plan, which embeds their values."""
        (self.path / VAR_FILE).unlink(missing_ok=True)
        (self.path / PLAN_FILE).unlink(missing_ok=True)

    def initialized_as(self, fingerprint: str) -> bool:
        mark = self.path / _INIT_MARK
        return (
            (self.path / ".terraform").is_dir()
            and mark.exists()
            and mark.read_text() == fingerprint
        )

    def mark_initialized(self, fingerprint: str) -> None:
        (self.path / _INIT_MARK).write_text(fingerprint)

    def forget_init(self) -> None:
        (self.path / _INIT_MARK).unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_private(path: Path, content: str) -> None:
    """Create ``path`` readable by us only, replacing a leftover of a crashed run."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
