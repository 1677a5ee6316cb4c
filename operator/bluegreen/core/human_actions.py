"""Parsing of the ``bluegreen.dev/action`` annotation humans use to steer a release.

Values: ``promote[:REVISION]``, ``abort``, ``rollback``, ``extend-hold:SECONDS``,
each optionally followed by ``@NONCE`` so that repeating the same action is
seen as a new request.
"""

from __future__ import annotations

from dataclasses import dataclass

KNOWN = ("promote", "abort", "rollback", "extend-hold")


@dataclass(frozen=True)
class HumanAction:
    verb: str
    argument: str
    raw: str


def parse_action(raw: str) -> HumanAction | None:
    """The action in ``raw``, or None when it is not one we know (it is then reported)."""
    body = raw.strip().split("@", 1)[0]
    verb, _, argument = body.partition(":")
    verb = verb.strip().lower()
    if verb not in KNOWN:
        return None
    if verb == "extend-hold" and not argument.strip().isdigit():
        return None
    return HumanAction(verb=verb, argument=argument.strip(), raw=raw)
