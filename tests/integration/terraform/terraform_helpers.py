"""Helpers shared by the Terraform integration tests and their fixtures."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from bluegreen.adapters.kube_rest import JSON, KubeRest, make_api_client
from bluegreen.adapters.terraform.cluster import KubeTerraformCluster

REPO = Path(__file__).resolve().parents[3]
MODULE = REPO / "terraform"
STATE_NAMESPACE = "bluegreen-system"


def toolchain_env() -> dict[str, str]:
    """The exports of hack/toolchain-env.sh, the one place that knows the toolchain."""
    script = f'eval "$({REPO}/hack/toolchain-env.sh)" && env -0'
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True).stdout
    pairs = (item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return dict(pairs)


@dataclass
class Kube:
    """A thin client for the assertions: what a human would see with kubectl."""

    core: Any
    coordination: Any

    def service(self, namespace: str, name: str) -> Any | None:
        try:
            return self.core.read_namespaced_service(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def secret(self, name: str) -> Any | None:
        try:
            return self.core.read_namespaced_secret(name, STATE_NAMESPACE)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def lease(self, name: str) -> Any | None:
        try:
            return self.coordination.read_namespaced_lease(name, STATE_NAMESPACE)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def ensure_namespace(self, name: str) -> None:
        try:
            self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        except ApiException as err:
            if err.status != 409:
                raise

    def hold_state_lock(self, key: str, lock_id: str, created: datetime) -> None:
        """Take the state lock exactly as Terraform's kubernetes backend does.

        Lease ``lock-tfstate-default-<key>``, holder = lock ID, lock info JSON
        in the ``app.terraform.io/lock-info`` annotation. The backend never
        deletes the Lease on unlock, so an existing one is updated.
        """
        info = {
            "ID": lock_id,
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": "root@a-pod-that-was-killed",
            "Version": "1.5.7",
            "Created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Path": "",
        }
        name = f"lock-tfstate-default-{key}"
        metadata = client.V1ObjectMeta(
            name=name,
            labels={
                "tfstate": "true",
                "tfstateSecretSuffix": key,
                "tfstateWorkspace": "default",
                "app.kubernetes.io/managed-by": "terraform",
            },
            annotations={"app.terraform.io/lock-info": json.dumps(info)},
        )
        lease = client.V1Lease(metadata=metadata, spec=client.V1LeaseSpec(holder_identity=lock_id))
        if self.lease(name) is None:
            self.coordination.create_namespaced_lease(STATE_NAMESPACE, lease)
        else:
            self.coordination.patch_namespaced_lease(name, STATE_NAMESPACE, lease)


class PerCallCluster:
    """The adapter's real ``KubeTerraformCluster``, on a fresh client for every call.

    The tests drive the adapter with one ``asyncio.run`` per operation, and an
    async client cannot outlive its event loop; the operator keeps one client.
    """

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = str(kubeconfig)

    async def _call(self, method: str, *args: Any) -> Any:
        api = await make_api_client(self.kubeconfig)
        try:
            cluster = KubeTerraformCluster(KubeRest(api), STATE_NAMESPACE)
            return await getattr(cluster, method)(*args)
        finally:
            await api.close()

    async def state_secret(self, key: str) -> JSON | None:
        return await self._call("state_secret", key)  # type: ignore[no-any-return]

    async def create_state_secret(self, body: Any) -> bool:
        return bool(await self._call("create_state_secret", body))

    async def delete_state_secret(self, key: str, uid: str) -> None:
        await self._call("delete_state_secret", key, uid)

    async def lease(self, key: str) -> JSON | None:
        return await self._call("lease", key)  # type: ignore[no-any-return]

    async def delete_lease(self, key: str, uid: str) -> None:
        await self._call("delete_lease", key, uid)

    async def service(self, namespace: str, name: str) -> JSON | None:
        return await self._call("service", namespace, name)  # type: ignore[no-any-return]


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def forget_state(kube: Kube, *keys: str) -> None:
    """Delete the state Secrets and locks of ``keys``; absent ones are fine."""
    for key in keys:
        for delete, object_name in (
            (kube.core.delete_namespaced_secret, f"tfstate-default-{key}"),
            (kube.coordination.delete_namespaced_lease, f"lock-tfstate-default-{key}"),
        ):
            try:
                delete(object_name, STATE_NAMESPACE)
            except ApiException as err:
                if err.status != 404:
                    raise
