"""What the Terraform adapter reads and writes in the cluster besides running Terraform.

The state Secrets and locks in the state namespace (to move state from the legacy
key and to clean up after a destroy) and the release's Services (to decide, right
before Terraform runs, whether an existing Service may be imported). Decisions
live in ``core.tfstate`` and ``core.service_claim``; this module only does I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from bluegreen.adapters.kube_rest import JSON, KubeError, KubeRest
from bluegreen.core import tfstate
from bluegreen.core.infrastructure import InfrastructureInputs

log = logging.getLogger(__name__)


class TerraformCluster(Protocol):
    """The Kubernetes calls the Terraform adapter makes itself."""

    async def state_secret(self, key: str) -> JSON | None: ...

    async def create_state_secret(self, body: Mapping[str, Any]) -> bool:
        """Create; False when a Secret of that name exists already."""
        ...

    async def delete_state_secret(self, key: str, uid: str) -> None:
        """Delete that very Secret (uid precondition); absent is fine."""
        ...

    async def lease(self, key: str) -> JSON | None: ...

    async def delete_lease(self, key: str, uid: str, resource_version: str = "") -> None:
        """Delete that very Lease (uid, and resourceVersion when given); absent is fine."""
        ...

    async def service(self, namespace: str, name: str) -> JSON | None: ...


class KubeTerraformCluster:
    """``TerraformCluster`` through the operator's Kubernetes client."""

    def __init__(self, rest: KubeRest, state_namespace: str) -> None:
        self.rest = rest
        self.state_namespace = state_namespace

    def _secret_path(self, key: str = "") -> str:
        base = f"/api/v1/namespaces/{self.state_namespace}/secrets"
        return f"{base}/{tfstate.secret_name(key)}" if key else base

    def _lease_path(self, key: str) -> str:
        return (
            f"/apis/coordination.k8s.io/v1/namespaces/{self.state_namespace}/leases/"
            f"{tfstate.lease_name(key)}"
        )

    async def state_secret(self, key: str) -> JSON | None:
        return await self.rest.get(self._secret_path(key))

    async def create_state_secret(self, body: Mapping[str, Any]) -> bool:
        return await self.rest.create(self._secret_path(), body) is not None

    async def delete_state_secret(self, key: str, uid: str) -> None:
        await self._delete(self._secret_path(key), uid)

    async def lease(self, key: str) -> JSON | None:
        return await self.rest.get(self._lease_path(key))

    async def delete_lease(self, key: str, uid: str, resource_version: str = "") -> None:
        await self._delete(self._lease_path(key), uid, resource_version)

    async def service(self, namespace: str, name: str) -> JSON | None:
        return await self.rest.get(f"/api/v1/namespaces/{namespace}/services/{name}")

    async def _delete(self, path: str, uid: str, resource_version: str = "") -> None:
        try:
            await self.rest.delete(path, uid=uid, resource_version=resource_version)
        except KubeError as err:
            # 409: the precondition failed, i.e. a different object holds the name
            # now, or it changed since it was read; it is not the one we meant.
            if err.status == 409:
                return
            # 403: an installation whose Role predates the delete verb. What is
            # left behind is an inert copy; refusing to run would strand releases.
            if err.status == 403:
                log.warning("not allowed to delete %s (grant delete to clean up): %s", path, err)
                return
            raise


async def migrate_legacy_state(cluster: TerraformCluster, inputs: InfrastructureInputs) -> None:
    """Move the state kept under the legacy key to ``inputs.state_key()``, if it is ours.

    Runs before every ``terraform init``: init creates an empty state under the
    new key, after which the legacy state would never be looked at again and its
    Services would be orphaned (or, worse, re-created over). Crash-safe: the copy
    records the legacy Secret's uid, so a run interrupted between copy and delete
    is recognized and finished by the next one.
    """
    key, legacy_key = inputs.state_key(), inputs.legacy_state_key()
    legacy = await cluster.state_secret(legacy_key)
    if legacy is None:
        return
    new = await cluster.state_secret(key)
    migration = tfstate.plan_migration(new, legacy, inputs.namespace, inputs.release)
    if migration.step is tfstate.MigrationStep.NOTHING:
        log.info(
            "terraform state %s: legacy key %s not migrated: %s", key, legacy_key, migration.reason
        )
        return
    if migration.step is tfstate.MigrationStep.COPY:
        created = await cluster.create_state_secret(tfstate.migrated_secret(legacy, key))
        if not created:
            # A concurrent run made the new state first: decide again from scratch.
            log.warning("terraform state %s appeared during migration; legacy left alone", key)
            return
        log.info(
            "terraform state of %s/%s copied from legacy key %s to %s",
            inputs.namespace,
            inputs.release,
            legacy_key,
            key,
        )
    legacy_uid = str(legacy["metadata"]["uid"])
    await cluster.delete_state_secret(legacy_key, legacy_uid)
    lease = await cluster.lease(legacy_key)
    if lease is not None and not (lease.get("spec") or {}).get("holderIdentity"):
        await cluster.delete_lease(legacy_key, str(lease["metadata"]["uid"]))
    log.info("terraform state: legacy key %s removed after migration to %s", legacy_key, key)


async def remove_empty_state(cluster: TerraformCluster, key: str) -> None:
    """After a destroy: delete the state Secret and its unheld lock if nothing is left.

    Terraform cannot delete the default workspace, so without this every deleted
    release would leave a Secret and a Lease behind forever.
    """
    secret = await cluster.state_secret(key)
    if secret is not None:
        try:
            if tfstate.has_resources(tfstate.decode_state(secret)):
                return
        except tfstate.StateUnreadableError:
            return
        await cluster.delete_state_secret(key, str(secret["metadata"]["uid"]))
    lease = await cluster.lease(key)
    if lease is not None and not (lease.get("spec") or {}).get("holderIdentity"):
        await cluster.delete_lease(key, str(lease["metadata"]["uid"]))
