"""RFC 3339 timestamps; the one implementation lives in ``bluegreen.api.timefmt``."""

from __future__ import annotations

from bluegreen.api.timefmt import format_micro_time, format_time, parse_time

__all__ = ["format_micro_time", "format_time", "parse_time"]
