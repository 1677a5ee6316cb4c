"""Names and labels of everything the operator creates."""

from __future__ import annotations

import hashlib

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "bluegreen-operator"
RELEASE_LABEL = "bluegreen.dev/release"
REVISION_LABEL = "bluegreen.dev/revision"
CHECK_LABEL = "bluegreen.dev/check"
ACTION_ANNOTATION = "bluegreen.dev/action"
FIELD_MANAGER = "bluegreen-operator"
FINALIZER = "bluegreen.dev/finalizer"
MAX_NAME = 63


def deployment_name(release: str, revision: str) -> str:
    """``<release>-<revision>``, as users see it in ``kubectl get deploy``."""
    return _bounded(f"{release}-{revision}")


def job_name(release: str, revision: str, check: str, stage: str, run: int) -> str:
    """A Job per check run; ``run`` makes reruns of hold checks distinct."""
    return _bounded(f"{release}-{revision}-{stage}-{check}-{run}")


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
