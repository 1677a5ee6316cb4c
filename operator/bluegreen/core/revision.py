"""Revision hashing: the identity of a pod template."""

from __future__ import annotations

from bluegreen.api.limits import REVISION_LENGTH

__all__ = ["REVISION_LENGTH", "canonical_json", "compute_revision"]

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text.

    Library versions must not change a revision, so this relies only on the
    JSON standard library with explicit options, never on a client's serializer.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_revision(template: Mapping[str, Any]) -> str:
    """A short, stable hash of a PodTemplateSpec (lowercase hex, DNS-label safe)."""
    digest = hashlib.sha256(canonical_json(template).encode("utf-8")).hexdigest()
    return digest[:REVISION_LENGTH]
