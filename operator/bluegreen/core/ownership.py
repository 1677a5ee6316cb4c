"""Which objects a release may write: the rules, as pure functions of their metadata.

A Service is ours when it carries the operator's managed-by label and this
release's name in the release label (the Terraform module and the plain
Kubernetes implementation both stamp them). A Service without them is foreign:
it is never written, unless a human opted it in with the adopt annotation naming
this release. Deployments and Jobs are ours only through a controller
ownerReference carrying the release's uid: labels can be copied by anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bluegreen.api.v1alpha1 import (
    ADOPT_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    RELEASE_LABEL,
    RESERVED_LABEL_PREFIX,
)


def service_owner(labels: Mapping[str, str] | None) -> str | None:
    """The release a Service belongs to, or None when the operator did not create it."""
    labels = labels or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        return None
    return labels.get(RELEASE_LABEL) or None


def adoption_requested_by(annotations: Mapping[str, str] | None) -> str | None:
    """The release a human allowed to take a foreign Service over, if any."""
    value = (annotations or {}).get(ADOPT_ANNOTATION, "").strip()
    return value or None


def controlled_by(owner_references: Iterable[Mapping[str, Any]] | None, uid: str) -> bool:
    """True when the object's controller ownerReference is the release with ``uid``."""
    if not uid:
        return False
    return any(
        ref.get("controller") is True and ref.get("uid") == uid for ref in owner_references or ()
    )


def reserved_label_keys(labels: Mapping[str, str] | None) -> list[str]:
    """Keys a pod template may not set: the operator's own selectors depend on them."""
    return sorted(
        key
        for key in labels or {}
        if key.startswith(RESERVED_LABEL_PREFIX) or key == MANAGED_BY_LABEL
    )
