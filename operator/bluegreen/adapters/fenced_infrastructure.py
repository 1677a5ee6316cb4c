"""The infrastructure port behind the leader's fence.

Terraform writes to the cluster through its own process and credentials, out
of reach of ``KubeRest``'s check: so the check runs before a run starts. A run
already started when leadership is lost finishes under Terraform's own state
lock, which a second leader's run waits for.
"""

from __future__ import annotations

from collections.abc import Callable

from bluegreen.adapters.infrastructure import Infrastructure
from bluegreen.adapters.kube_rest import NotLeadingError
from bluegreen.core.infrastructure import DriftReport, InfrastructureInputs, InfrastructureOutputs


class FencedInfrastructure:
    def __init__(self, inner: Infrastructure, may_write: Callable[[], bool]) -> None:
        self.inner = inner
        self.may_write = may_write
        self.module_checksum = inner.module_checksum

    def _check(self) -> None:
        if not self.may_write():
            raise NotLeadingError

    async def apply(self, inputs: InfrastructureInputs) -> InfrastructureOutputs:
        self._check()
        return await self.inner.apply(inputs)

    async def detect_drift(self, inputs: InfrastructureInputs) -> DriftReport:
        self._check()  # a plan takes the state lock: a write to the cluster
        return await self.inner.detect_drift(inputs)

    async def destroy(self, inputs: InfrastructureInputs) -> None:
        self._check()
        await self.inner.destroy(inputs)
