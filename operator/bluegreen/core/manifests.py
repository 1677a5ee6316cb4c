"""Pure manifest builders: plain dicts, pinned by golden tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bluegreen.api.v1alpha1 import (
    API_VERSION,
    CHECK_REVISION_LABEL,
    HOOK_ENV,
    HOOK_LABEL,
    HOOK_POINT_LABEL,
    KIND,
    NAMESPACE_ENV,
    PREVIOUS_REVISION_ENV,
    RELEASE_ENV,
    REVISION_ENV,
    STAGE_ENV,
    TARGET_URL_ENV,
)
from bluegreen.core import names
from bluegreen.core.context import ReleaseContext
from bluegreen.core.spec import Check, Hook

__all__ = [
    "API_VERSION",
    "KIND",
    "build_check_job",
    "build_deployment",
    "build_hook_job",
    "owner_reference",
]


def owner_reference(ctx: ReleaseContext) -> dict[str, Any]:
    """Owned objects live in the release's namespace, so the garbage collector may follow."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": ctx.name,
        "uid": ctx.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def build_deployment(
    ctx: ReleaseContext, template: Mapping[str, Any], revision: str, replicas: int
) -> dict[str, Any]:
    """The Deployment ``<release>-<revision>`` running one revision of the pod template."""
    labels = names.revision_labels(ctx.name, revision)
    pod_template = copy.deepcopy(dict(template))
    metadata = dict(pod_template.get("metadata") or {})
    # Our labels win over the user's: the Services' selectors depend on them.
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    pod_template["metadata"] = metadata
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": names.deployment_name(ctx.name, revision),
            "namespace": ctx.namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(ctx)],
        },
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 1,
            "selector": {"matchLabels": names.revision_selector(ctx.name, revision)},
            "template": pod_template,
        },
    }


def build_check_job(
    ctx: ReleaseContext,
    check: Check,
    stage: str,
    revision: str,
    run: int,
    target_url: str,
) -> dict[str, Any]:
    """A Job for a job-kind check; it learns its target from ``TARGET_URL_ENV``."""
    assert check.job is not None, "build_check_job needs a job check"
    job_spec = copy.deepcopy(dict(check.job.template))
    job_spec.setdefault("backoffLimit", 0)
    # The Job fails by itself at its deadline, so a hung check can't stall a release.
    job_spec["activeDeadlineSeconds"] = check.job.timeout_seconds
    pod = dict(job_spec.get("template") or {})
    pod_spec = dict(pod.get("spec") or {})
    pod_spec.setdefault("restartPolicy", "Never")
    env = [
        {"name": TARGET_URL_ENV, "value": target_url},
        {"name": REVISION_ENV, "value": revision},
        {"name": STAGE_ENV, "value": stage},
    ]
    pod_spec["containers"] = [
        {**c, "env": [*(c.get("env") or []), *env]} for c in pod_spec.get("containers") or []
    ]
    labels = {**names.revision_labels(ctx.name, revision), names.CHECK_LABEL: check.name}
    pod_meta = dict(pod.get("metadata") or {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **labels}
    # Check pods must never match a Service selector: drop the revision label on pods.
    pod_meta["labels"].pop(names.REVISION_LABEL, None)
    pod_meta["labels"][CHECK_REVISION_LABEL] = revision
    job_spec["template"] = {**pod, "metadata": pod_meta, "spec": pod_spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": names.job_name(ctx.name, revision, check.name, stage, run),
            "namespace": ctx.namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(ctx)],
        },
        "spec": job_spec,
    }


def build_hook_job(
    ctx: ReleaseContext, hook: Hook, point: str, revision: str, previous: str, attempt: int
) -> dict[str, Any]:
    """The Job of one hook for one revision: the release, namespace, revisions and point
    in its containers' environment, its deadline and retries from the hook."""
    job_spec = copy.deepcopy(dict(hook.template))
    job_spec["backoffLimit"] = hook.retries
    # The Job fails by itself at its deadline, so a hung migration can't stall a release.
    job_spec["activeDeadlineSeconds"] = hook.timeout_seconds
    pod = dict(job_spec.get("template") or {})
    pod_spec = dict(pod.get("spec") or {})
    pod_spec.setdefault("restartPolicy", "Never")
    env = [
        {"name": RELEASE_ENV, "value": ctx.name},
        {"name": NAMESPACE_ENV, "value": ctx.namespace},
        {"name": REVISION_ENV, "value": revision},
        {"name": PREVIOUS_REVISION_ENV, "value": previous},
        {"name": HOOK_ENV, "value": point},
    ]
    pod_spec["containers"] = [
        {**c, "env": [*(c.get("env") or []), *env]} for c in pod_spec.get("containers") or []
    ]
    labels = {
        **names.revision_labels(ctx.name, revision),
        HOOK_LABEL: hook.name,
        HOOK_POINT_LABEL: point,
    }
    pod_meta = dict(pod.get("metadata") or {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **labels}
    # Hook pods must never match a Service selector: no revision label on pods.
    pod_meta["labels"].pop(names.REVISION_LABEL, None)
    pod_meta["labels"][CHECK_REVISION_LABEL] = revision
    job_spec["template"] = {**pod, "metadata": pod_meta, "spec": pod_spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": names.hook_job_name(ctx.name, revision, point, hook.name, attempt),
            "namespace": ctx.namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(ctx)],
        },
        "spec": job_spec,
    }
