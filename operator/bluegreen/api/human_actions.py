"""The grammar of the ``bluegreen.dev/action`` annotation humans use to steer a release.

Values: ``promote[:REVISION]``, ``abort``, ``rollback``, ``extend-hold:SECONDS``,
each optionally followed by ``@NONCE`` so that repeating the same action is
seen as a new request (an unchanged annotation produces no watch event).

The plugin encodes, the operator parses: both sides live here so they cannot
drift apart. Anyone allowed to annotate the release writes this value, so
parsing never raises, whatever the value: anything that is not one of the forms
above is rejected (``parse_action`` returns None) and the caller reports and
consumes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bluegreen.api.limits import MAX_HOLD_SECONDS


class ActionVerb(StrEnum):
    PROMOTE = "promote"
    ABORT = "abort"
    ROLLBACK = "rollback"
    EXTEND_HOLD = "extend-hold"


KNOWN: Final = tuple(ActionVerb)
ARGUMENT_SEPARATOR: Final = ":"
NONCE_SEPARATOR: Final = "@"
MAX_ACTION_CHARS: Final = 256
"""Longer than any value the plugin writes; longer values are rejected unread."""
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_SECONDS = re.compile(r"[0-9]{1,7}")
"""ASCII digits only: ``str.isdigit`` also accepts '٣' or '²', which ``int`` rejects or misreads."""
_REVISION = re.compile(r"[a-z0-9]{1,63}")


@dataclass(frozen=True)
class HumanAction:
    verb: ActionVerb
    argument: str
    raw: str


def encode_action(verb: ActionVerb, argument: str | int = "") -> str:
    """The action as humans read it, without a nonce: ``promote:5d8f9c2a1b``."""
    text = str(argument)
    return f"{verb}{ARGUMENT_SEPARATOR}{text}" if text else str(verb)


def with_nonce(action: str, nonce: str) -> str:
    """The annotation's value: ``action@nonce``. The nonce may not hold the separator,
    or the value would parse back to another action."""
    if not nonce or NONCE_SEPARATOR in nonce:
        raise ValueError(f"bad nonce {nonce!r}")
    return f"{action}{NONCE_SEPARATOR}{nonce}"


def parse_action(raw: str) -> HumanAction | None:
    """The action in ``raw``, or None when it is not one we know (it is then reported).

    Arguments of known verbs are checked later, by ``argument_problem``, so the
    rejection can say what was wrong with them.
    """
    if len(raw) > MAX_ACTION_CHARS or not _PRINTABLE_ASCII.fullmatch(raw):
        return None
    body = raw.strip().split(NONCE_SEPARATOR, 1)[0]
    verb, _, argument = body.partition(ARGUMENT_SEPARATOR)
    verb = verb.strip().lower()
    if verb not in KNOWN:
        return None
    return HumanAction(verb=ActionVerb(verb), argument=argument.strip(), raw=raw)


def argument_problem(verb: str, argument: str) -> str | None:
    """Why ``argument`` is not acceptable for ``verb``, or None when it is."""
    if verb == ActionVerb.EXTEND_HOLD:
        if hold_extension_seconds(argument) is None:
            return f"extend-hold takes a whole number of seconds from 1 to {MAX_HOLD_SECONDS}"
        return None
    if verb == ActionVerb.PROMOTE:
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
