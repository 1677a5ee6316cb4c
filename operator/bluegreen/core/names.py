"""Names of everything the operator creates; the label keys live in ``bluegreen.api``."""

from __future__ import annotations

import hashlib

from bluegreen.api.limits import LABEL_VALUE_MAX_CHARS
from bluegreen.api.v1alpha1 import (
    ACTION_ANNOTATION,
    ADOPT_ANNOTATION,
    CHECK_LABEL,
    FIELD_MANAGER,
    FINALIZER,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    RELEASE_LABEL,
    RESERVED_LABEL_PREFIX,
    REVISION_LABEL,
    TEMPLATE_REVISION_ANNOTATION,
)

__all__ = [
    "ACTION_ANNOTATION",
    "ADOPT_ANNOTATION",
    "CHECK_LABEL",
    "FIELD_MANAGER",
    "FINALIZER",
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "MAX_NAME",
    "RELEASE_LABEL",
    "RESERVED_LABEL_PREFIX",
    "REVISION_LABEL",
    "STATE_KEY_HASH_LENGTH",
    "TEMPLATE_REVISION_ANNOTATION",
    "deployment_name",
    "job_name",
    "legacy_state_key",
    "release_labels",
    "revision_labels",
    "revision_selector",
    "state_key",
]

MAX_NAME = LABEL_VALUE_MAX_CHARS
"""Derived names double as label values, which stop at 63 characters."""
STATE_KEY_HASH_LENGTH = 12


def state_key(namespace: str, release: str) -> str:
    """Terraform's ``secret_suffix`` (and working directory) for one release.

    Distinct for every (namespace, name) pair: the hash covers both, joined by a
    character neither may contain. The readable parts only help humans find it.
    The result is a valid label value (Terraform labels the state Secret with it,
    so at most 63 characters), makes ``tfstate-default-<key>`` a DNS subdomain
    (dot-separated parts start and end with an alphanumeric), and never ends in
    ``-<digits>``, which later Terraform versions reserve for state chunks.
    """
    digest = hashlib.sha256(f"{namespace}/{release}".encode()).hexdigest()
    readable_ns = namespace[:20].rstrip("-.")
    readable_name = release[:24].rstrip("-.")
    return f"{readable_ns}.{readable_name}.h{digest[:STATE_KEY_HASH_LENGTH]}"


def legacy_state_key(namespace: str, release: str) -> str:
    """The key of versions before 0.2: ambiguous (``a-b`` in ``shop`` = ``b`` in ``shop-a``)."""
    return f"{namespace}-{release}"


def deployment_name(release: str, revision: str) -> str:
    """``<release>-<revision>``, as users see it in ``kubectl get deploy``."""
    return _bounded(f"{release}-{revision}")


def job_name(release: str, revision: str, check: str, stage: str, run: int) -> str:
    """A Job per check run; ``run`` makes reruns of hold checks distinct."""
    return _bounded(f"{release}-{revision}-{stage}-{check}-{run}")


def hook_job_name(release: str, revision: str, point: str, hook: str, attempt: int) -> str:
    """One Job per hook, revision and attempt: found again by name after a restart."""
    return _bounded(f"{release}-{revision}-{point.lower()}-{hook}-{attempt}")


def release_labels(release: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, RELEASE_LABEL: release}


def revision_labels(release: str, revision: str) -> dict[str, str]:
    return {**release_labels(release), REVISION_LABEL: revision}


def revision_selector(release: str, revision: str) -> dict[str, str]:
    """The selector a Service uses to reach exactly one revision's pods.

    managed-by is left out on purpose: a selector must match pod labels only,
    and the two labels below are enough to be unique.
    """
    return {RELEASE_LABEL: release, REVISION_LABEL: revision}


def _bounded(name: str) -> str:
    """Kubernetes names used as label values must stay within 63 characters."""
    if len(name) <= MAX_NAME:
        return name
    suffix = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('-')}-{suffix}"
