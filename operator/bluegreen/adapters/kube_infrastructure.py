"""Infrastructure through plain Kubernetes calls, for clusters without Terraform.

It creates the same objects as the Terraform module (``terraform/``) and, like
it, never writes a Service's selector after creation.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_rest import KubeError
from bluegreen.core.infrastructure import DriftReport, InfrastructureInputs, InfrastructureOutputs

_VERSION = "kube-infrastructure-v1"


class KubeInfrastructure:
    module_checksum = hashlib.sha256(_VERSION.encode()).hexdigest()[:16]

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def _service(self, inputs: InfrastructureInputs, name: str) -> dict[str, Any]:
        port: dict[str, Any] = {"name": "http", "port": inputs.service_port, "protocol": "TCP"}
        port["targetPort"] = inputs.target_port or inputs.service_port
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": inputs.namespace,
                "labels": dict(inputs.labels),
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
        for name in (inputs.service_name, inputs.preview_service_name):
            wanted = self._service(inputs, name)
            current = await self.kube.services.get(inputs.namespace, name)
            if current is None:
                await self.kube.services.create(wanted)
            elif self._differs(current, wanted):
                await self.kube.services.merge_patch(
                    inputs.namespace,
                    name,
                    {"spec": {"type": wanted["spec"]["type"], "ports": wanted["spec"]["ports"]}},
                )
            live = await self.kube.services.get(inputs.namespace, name)
            ips[name] = (live or {}).get("spec", {}).get("clusterIP")
        return InfrastructureOutputs(
            stable_service=inputs.service_name,
            preview_service=inputs.preview_service_name,
            stable_cluster_ip=ips.get(inputs.service_name),
            preview_cluster_ip=ips.get(inputs.preview_service_name),
        )

    @staticmethod
    def _differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
        spec = current.get("spec", {})
        ports = [(p.get("port"), str(p.get("targetPort"))) for p in spec.get("ports") or []]
        want = [(p["port"], str(p["targetPort"])) for p in wanted["spec"]["ports"]]
        return bool(spec.get("type") != wanted["spec"]["type"] or ports != want)

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        drifted = []
        for name in (inputs.service_name, inputs.preview_service_name):
            current = await self.kube.services.get(inputs.namespace, name)
            if current is None or self._differs(current, self._service(inputs, name)):
                drifted.append(f"Service {name}")
        return DriftReport(drifted=bool(drifted), summary=", ".join(drifted))

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        for name in (inputs.service_name, inputs.preview_service_name):
            try:
                await self.kube.services.delete(inputs.namespace, name)
            except KubeError as err:
                if not err.not_found:
                    raise
