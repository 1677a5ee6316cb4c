"""Who the resource is, and the keys it marks other objects with.

Every name here is seen by the API server, by other tools (kubectl, Argo CD,
Flux, Terraform's state Secrets) or by humans, so none may change without a
migration: they are declared once and imported everywhere else.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "bluegreen.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "BlueGreenRelease"
LIST_KIND: Final = f"{KIND}List"
PLURAL: Final = "bluegreenreleases"
SINGULAR: Final = "bluegreenrelease"
SHORT_NAMES: Final = ("bgr",)
CATEGORIES: Final = ("bluegreen",)
CRD_NAME: Final = f"{PLURAL}.{GROUP}"

OPERATOR_NAME: Final = "bluegreen-operator"
FIELD_MANAGER: Final = OPERATOR_NAME
"""Server-side apply and Event reporting name: what ``managedFields`` shows."""
FINALIZER: Final = f"{GROUP}/finalizer"
SHARDS_ANNOTATION: Final = f"{GROUP}/shards"
"""On a shard Lease: how many shards its holder counts (``core.sharding``)."""
LEASE_GROUP_LABEL: Final = f"{GROUP}/lease-group"
"""On a shard Lease: the election id its shards share, so they can be listed together."""
STORAGE_PREFIX: Final = GROUP
"""kopf's annotation prefix; changing it would make kopf re-run handlers."""

# Labels on everything the operator creates. A Service selects one revision
# with RELEASE_LABEL + REVISION_LABEL; MANAGED_BY marks what is ours.
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = OPERATOR_NAME
RESERVED_LABEL_PREFIX: Final = f"{GROUP}/"
"""Pod templates may not set labels under it: the selectors depend on them."""
RELEASE_LABEL: Final = f"{GROUP}/release"
REVISION_LABEL: Final = f"{GROUP}/revision"
CHECK_LABEL: Final = f"{GROUP}/check"
HOOK_LABEL: Final = f"{GROUP}/hook"
"""On a hook's Job and pods: the hook's name."""
HOOK_POINT_LABEL: Final = f"{GROUP}/hook-point"
"""On a hook's Job and pods: when it runs (preSwitch, postSwitch, postCleanup)."""
CHECK_REVISION_LABEL: Final = f"{GROUP}/check-revision"
"""On check pods instead of REVISION_LABEL, so no Service selector ever matches them."""
ROLE_LABEL: Final = f"{GROUP}/role"
"""stable or preview, on the Services the plain Kubernetes infrastructure creates."""

ACTION_ANNOTATION: Final = f"{GROUP}/action"
"""Where humans write actions (see ``human_actions``); the operator consumes it."""
ADOPT_ANNOTATION: Final = f"{GROUP}/adopt"
"""Written by a human on an existing Service: its value, a release name, lets that
release take the Service over. Without it a Service we did not create is never written."""
MIGRATED_FROM_ANNOTATION: Final = f"{GROUP}/migrated-from-uid"
"""On a Terraform state Secret copied from a legacy one: the legacy Secret's uid, so a run
that finds both knows the legacy one is the leftover of its own interrupted migration."""
TEMPLATE_REVISION_ANNOTATION: Final = "deployment.kubernetes.io/revision"
"""Set by the Deployment controller: 1 until someone changes the pod template."""

# What a job check's containers are told; the CRD's job description names the first.
TARGET_URL_ENV: Final = "BLUEGREEN_TARGET_URL"
REVISION_ENV: Final = "BLUEGREEN_REVISION"
STAGE_ENV: Final = "BLUEGREEN_STAGE"
# What a hook's containers are told, besides REVISION_ENV.
RELEASE_ENV: Final = "BLUEGREEN_RELEASE"
NAMESPACE_ENV: Final = "BLUEGREEN_NAMESPACE"
PREVIOUS_REVISION_ENV: Final = "BLUEGREEN_PREVIOUS_REVISION"
HOOK_ENV: Final = "BLUEGREEN_HOOK"
