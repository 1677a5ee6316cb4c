"""Terraform 1.5.7's real output, captured by ``fixtures/terraform/capture.py``.

See that script for how each scenario was produced and how to regenerate them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "terraform"


@dataclass(frozen=True)
class Captured:
    """One command as run: its argv, exit code and both streams."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def captured(name: str) -> Captured:
    meta = json.loads((FIXTURES / f"{name}.meta.json").read_text())
    stdout = ""
    for suffix in (".jsonl", ".json"):
        path = FIXTURES / f"{name}{suffix}"
        if path.exists():
            stdout = path.read_text()
    return Captured(meta["argv"], meta["returncode"], stdout, meta["stderr"])


def replay_script(path: Path, name: str) -> Path:
    """An executable that prints what Terraform printed in scenario ``name`` and exits
    with its code: the adapter's process handling on Terraform's real output."""
    run = captured(name)
    stdout, stderr = path.with_suffix(".stdout"), path.with_suffix(".stderr")
    stdout.write_text(run.stdout)
    stderr.write_text(run.stderr)
    path.write_text(f"#!/bin/sh\ncat '{stdout}'\ncat '{stderr}' >&2\nexit {run.returncode}\n")
    path.chmod(0o755)
    return path
