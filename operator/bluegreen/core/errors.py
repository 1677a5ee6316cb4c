"""Errors raised by pure code."""

from __future__ import annotations


class SpecError(ValueError):
    """The spec cannot be acted on; a human must change it (a permanent error)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        """CamelCase reason for the Stalled condition and the event."""
        self.message = message
