"""Infrastructure through plain Kubernetes calls, for clusters without Terraform.

It creates the same objects as the Terraform module (``terraform/``) and, like
it, never writes a Service's selector after creation. It writes or deletes only
Services of this release (``core.service_claim``): a foreign Service is refused
with ``ServiceNotOwned`` unless a human annotated it for adoption, and every
write is fenced on the uid and resourceVersion that were judged, so an object
replaced in between is never written.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_rest import JSON, KubeError
from bluegreen.api.v1alpha1 import ROLE_LABEL
from bluegreen.core import names, service_claim
from bluegreen.core.infrastructure import DriftReport, InfrastructureInputs, InfrastructureOutputs

_VERSION = "kube-infrastructure-v2"


def _path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{name}"


def _target_port(inputs: InfrastructureInputs) -> int | str:
    """An int for a number (also when given as a string), else the port's name."""
    target = inputs.target_port
    if isinstance(target, str) and target.isdigit():
        return int(target)
    return target or inputs.service_port


class KubeInfrastructure:
    module_checksum = hashlib.sha256(_VERSION.encode()).hexdigest()[:16]

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def _roles(self, inputs: InfrastructureInputs) -> list[tuple[str, str]]:
        return [("stable", inputs.service_name), ("preview", inputs.preview_service_name)]

    def _labels(self, inputs: InfrastructureInputs, role: str) -> dict[str, str]:
        # Ours last, as in the module: a release cannot relabel a Service away.
        return {**inputs.labels, **names.release_labels(inputs.release), ROLE_LABEL: role}

    def _service(self, inputs: InfrastructureInputs, name: str, role: str) -> dict[str, Any]:
        port: dict[str, Any] = {
            "name": "http",
            "port": inputs.service_port,
            "protocol": "TCP",
            "targetPort": _target_port(inputs),
        }
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": inputs.namespace,
                "labels": self._labels(inputs, role),
            },
            "spec": {"type": inputs.service_type, "ports": [port]},
        }

    async def apply(self, inputs: InfrastructureInputs) -> InfrastructureOutputs:
        if inputs.create_namespace:
            await self.kube.rest.create(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": inputs.namespace}},
            )
        ips: dict[str, str | None] = {}
        for role, name in self._roles(inputs):
            live = await self._ensure(inputs, name, role)
            ips[name] = live.get("spec", {}).get("clusterIP")
        return InfrastructureOutputs(
            stable_service=inputs.service_name,
            preview_service=inputs.preview_service_name,
            stable_cluster_ip=ips.get(inputs.service_name),
            preview_cluster_ip=ips.get(inputs.preview_service_name),
        )

    async def _ensure(self, inputs: InfrastructureInputs, name: str, role: str) -> JSON:
        """Create the Service, or bring ours (or an adoptable one) to the inputs."""
        wanted = self._service(inputs, name, role)
        current = await self.kube.services.get(inputs.namespace, name)
        if current is None:
            # create() returns None on 409: someone created it in between; judge that one.
            if await self.kube.rest.create(
                f"/api/v1/namespaces/{inputs.namespace}/services", wanted
            ):
                return await self._read(inputs, name)
            current = await self._read(inputs, name)
        verdict = service_claim.claim(current, None, inputs.release)
        if not verdict.writable:
            raise InfrastructureError(service_claim.refusal(inputs.namespace, name, inputs.release))
        labels = current.get("metadata", {}).get("labels") or {}
        if not self._differs(current, wanted) and all(
            labels.get(k) == v for k, v in wanted["metadata"]["labels"].items()
        ):
            return current
        meta = current["metadata"]
        patch = {
            # Fenced: the patch applies only to the very object judged above.
            "metadata": {
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "labels": wanted["metadata"]["labels"],
            },
            "spec": {"type": wanted["spec"]["type"], "ports": wanted["spec"]["ports"]},
        }
        try:
            return await self.kube.rest.merge_patch(_path(inputs.namespace, name), patch)
        except KubeError as err:
            if err.status == 409:
                raise InfrastructureError(
                    f"Service {inputs.namespace}/{name} changed while being updated; retrying"
                ) from None
            raise

    async def _read(self, inputs: InfrastructureInputs, name: str) -> JSON:
        live = await self.kube.services.get(inputs.namespace, name)
        if live is None:
            raise InfrastructureError(f"Service {inputs.namespace}/{name} vanished; retrying")
        return live

    @staticmethod
    def _differs(current: JSON, wanted: JSON) -> bool:
        spec = current.get("spec", {})
        ports = [(p.get("port"), str(p.get("targetPort"))) for p in spec.get("ports") or []]
        want = [(p["port"], str(p["targetPort"])) for p in wanted["spec"]["ports"]]
        return bool(spec.get("type") != wanted["spec"]["type"] or ports != want)

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        drifted = []
        for role, name in self._roles(inputs):
            current = await self.kube.services.get(inputs.namespace, name)
            if current is None:
                drifted.append(f"Service {name} missing")
            elif not service_claim.claim(current, None, inputs.release).writable:
                drifted.append(f"Service {name} is not ours")
            elif self._differs(current, self._service(inputs, name, role)):
                drifted.append(f"Service {name}")
        return DriftReport(drifted=bool(drifted), summary=", ".join(drifted))

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        """Delete this release's Services; anything else holding their names stays."""
        for _, name in self._roles(inputs):
            current = await self.kube.services.get(inputs.namespace, name)
            if current is None:
                continue
            if service_claim.claim(current, None, inputs.release) is not service_claim.Claim.OURS:
                continue
            # uid precondition: a look-alike created after the read is not deleted;
            # a 409 means exactly that, and an absent Service is already done.
            try:
                await self.kube.rest.delete(
                    _path(inputs.namespace, name), uid=str(current["metadata"]["uid"])
                )
            except KubeError as err:
                if err.status != 409:
                    raise
