"""Parsing of the ``bluegreen.dev/action`` annotation humans use to steer a release.

Values: ``promote[:REVISION]``, ``abort``, ``rollback``, ``extend-hold:SECONDS``,
each optionally followed by ``@NONCE`` so that repeating the same action is
seen as a new request.

Anyone allowed to annotate the release writes this value, so nothing here may
raise, whatever the value: anything that is not one of the forms above is
rejected (``parse_action`` returns None) and the caller reports and consumes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bluegreen.core.spec import MAX_HOLD_SECONDS

KNOWN = ("promote", "abort", "rollback", "extend-hold")
MAX_ACTION_CHARS = 256
"""Longer than any value the plugin writes; longer values are rejected unread."""
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_SECONDS = re.compile(r"[0-9]{1,7}")
"""ASCII digits only: ``str.isdigit`` also accepts '٣' or '²', which ``int`` rejects or misreads."""
_REVISION = re.compile(r"[a-z0-9]{1,63}")


@dataclass(frozen=True)
class HumanAction:
    verb: str
    argument: str
    raw: str


def parse_action(raw: str) -> HumanAction | None:
    """The action in ``raw``, or None when it is not one we know (it is then reported).

    Arguments of known verbs are checked later, by ``argument_problem``, so the
    rejection can say what was wrong with them.
    """
    if len(raw) > MAX_ACTION_CHARS or not _PRINTABLE_ASCII.fullmatch(raw):
        return None
    body = raw.strip().split("@", 1)[0]
    verb, _, argument = body.partition(":")
    verb = verb.strip().lower()
    if verb not in KNOWN:
        return None
    return HumanAction(verb=verb, argument=argument.strip(), raw=raw)


def argument_problem(verb: str, argument: str) -> str | None:
    """Why ``argument`` is not acceptable for ``verb``, or None when it is."""
    if verb == "extend-hold":
        if hold_extension_seconds(argument) is None:
            return f"extend-hold takes a whole number of seconds from 1 to {MAX_HOLD_SECONDS}"
        return None
    if verb == "promote":
        if argument and not _REVISION.fullmatch(argument):
            return "promote takes an optional revision (lowercase letters and digits)"
        return None
    if argument:
        return f"{verb} takes no argument"
    return None


def hold_extension_seconds(argument: str) -> int | None:
    """The seconds of an ``extend-hold`` argument, or None when out of bounds or malformed."""
    if not _SECONDS.fullmatch(argument):
        return None
    seconds = int(argument)
    return seconds if 1 <= seconds <= MAX_HOLD_SECONDS else None


def extended_deadline(current: datetime, seconds: int, now: datetime) -> datetime | None:
    """``current`` pushed ``seconds`` later, never beyond ``now + MAX_HOLD_SECONDS``.

    The same bound as ``hold.seconds``: a hold cannot be stretched without end by
    repeating the action. None when the deadline is at the bound already. Only
    bounded differences are added, so no value can overflow ``datetime``.
    """
    limit = now + timedelta(seconds=MAX_HOLD_SECONDS)
    if current >= limit:
        return None
    # current < limit and seconds <= MAX_HOLD_SECONDS: the sum stays near now.
    return min(current + timedelta(seconds=seconds), limit)
