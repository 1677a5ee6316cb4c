"""May the infrastructure layer write a Service that already exists? A pure verdict.

The core refuses a foreign Service before any apply; this is the second line of
defence, evaluated right before Terraform (or the plain API implementation)
would touch the live object, so a Service that appeared in between is caught too.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from bluegreen.api.conditions import Reason
from bluegreen.api.v1alpha1 import ADOPT_ANNOTATION
from bluegreen.core import ownership

NOT_OWNED = Reason.SERVICE_NOT_OWNED
"""Prefix of the error message when a Service is refused."""


class Claim(Enum):
    ABSENT = "absent"
    """No such Service: creating it is safe (creation never overwrites)."""
    TRACKED = "tracked"
    """The very object the state records (same uid): ours, whatever its labels say now."""
    OURS = "ours"
    """Untracked, but labelled as this release's (e.g. an apply crashed before saving state)."""
    ADOPTABLE = "adoptable"
    """Foreign, and a human annotated it for this release."""
    FOREIGN = "foreign"
    """Someone else's: never written, never deleted."""

    @property
    def writable(self) -> bool:
        return self is not Claim.FOREIGN


def claim(live: Mapping[str, Any] | None, tracked_uid: str | None, release: str) -> Claim:
    """The verdict on one live Service for ``release``; ``tracked_uid`` from the state."""
    if live is None:
        return Claim.ABSENT
    metadata = live.get("metadata") or {}
    if tracked_uid and metadata.get("uid") == tracked_uid:
        return Claim.TRACKED
    if ownership.service_owner(metadata.get("labels")) == release:
        return Claim.OURS
    if ownership.adoption_requested_by(metadata.get("annotations")) == release:
        return Claim.ADOPTABLE
    return Claim.FOREIGN


def refusal(namespace: str, name: str, release: str) -> str:
    """The message of the error raised for a foreign Service; starts with ``NOT_OWNED``."""
    return (
        f"{NOT_OWNED}: Service {namespace}/{name} exists and is not managed by release "
        f"{release}; left untouched (annotate it {ADOPT_ANNOTATION}={release} to hand it over)"
    )
