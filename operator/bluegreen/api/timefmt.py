"""RFC 3339 timestamps as Kubernetes writes them: UTC, second precision, ``Z``.

Status stores times as text so it round-trips through the API server
unchanged; this is the only place that writes or reads that text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

RFC3339: Final = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(RFC3339)


def parse_time(text: str | None) -> datetime | None:
    """An aware UTC datetime; None for no text; ValueError when malformed.

    Kubernetes always writes UTC, so a value without an offset (only a human
    editing status writes one) is read as UTC, never as the machine's local time.
    """
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_time_or_none(value: object) -> datetime | None:
    """``parse_time`` for readers that must never fail on what they display: None
    when ``value`` is absent, not text, or malformed."""
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def format_micro_time(moment: datetime) -> str:
    """Kubernetes ``MicroTime`` (a Lease's acquire and renew times): microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
