"""Where the plugin's output goes, what time it is, and whether to colour."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, TextIO

from rich.console import Console as RichConsole

REDRAW_SECONDS: Final = 1.0
PLAIN_WIDTH: Final = 4096


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _nonce() -> str:
    return secrets.token_hex(4)


@dataclass
class Console:
    """Where output goes and what time it is: commands take it as an argument."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    now: Callable[[], datetime] = _utcnow
    nonce: Callable[[], str] = _nonce
    color: bool = True
    """False for ``--no-color`` or ``NO_COLOR``; colour also needs a terminal."""
    redraw_seconds: float = REDRAW_SECONDS

    def is_tty(self) -> bool:
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def rich(self) -> RichConsole:
        tty = self.is_tty()
        return RichConsole(
            file=self.out,
            # No ANSI at all without colour: neither colours nor bold in a pipe or a log.
            color_system="auto" if self.color and tty else None,
            force_terminal=tty,
            # A pipe or a log gets whole lines, not lines cut at 80 columns.
            width=None if tty else PLAIN_WIDTH,
            soft_wrap=not tty,
            highlight=False,
            emoji=False,
        )
