"""The ports the reconciler drives: what it needs of the world, and nothing more.

The adapters implement them against the API server, Terraform and the network
(``adapters.kube.Kube``, ``adapters.terraform``, ``adapters.http_checks``,
``adapters.prometheus``); the
unit tests' in-memory cluster implements them too, so the real ``Reconciler``
and ``Executor`` run in both. They are structural (``Protocol``): an
implementation needs the methods, not a base class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bluegreen.adapters.http_checks import HttpCheckOutcome
from bluegreen.adapters.infrastructure import Infrastructure
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decision import Decision
from bluegreen.core.metric_checks import MetricQuery, QueryResult
from bluegreen.core.observed import Observed
from bluegreen.core.spec import HttpCheck
from bluegreen.core.status import ReleaseStatus

JSON = dict[str, Any]

InfrastructurePort = Infrastructure
"""Creates, checks and removes a release's Services (``adapters.infrastructure``)."""

Decide = Callable[[ReleaseContext, Mapping[str, Any], ReleaseStatus, Observed, datetime], Decision]
"""The policy: ``core.decide.decide``; tests may wrap it to audit every decision."""


class ReleasesPort(Protocol):
    async def get(self, namespace: str, name: str) -> JSON | None: ...

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str = "",
        unless: asyncio.Event | None = None,
    ) -> str: ...

    async def patch_status_as_read(
        self,
        body: Mapping[str, Any],
        patch: Mapping[str, Any],
        attempts: int,
        unless: asyncio.Event | None = None,
    ) -> str:
        """Write over the status ``body`` holds; ``StatusChangedError`` if another moved it;
        ``SupersededError``, unsent, when ``unless`` is set while it waits to be sent."""
        ...

    async def clear_action(self, namespace: str, name: str, raw: str) -> None: ...


class DeploymentsPort(Protocol):
    async def list_for_release(self, namespace: str, release: str) -> list[JSON]: ...

    async def get(self, namespace: str, name: str) -> JSON | None: ...

    async def live(self, namespace: str, name: str) -> JSON | None:
        """The Deployment as it is now: a read, or a watched copy just as fresh."""
        ...

    async def create(self, manifest: Mapping[str, Any]) -> None: ...

    async def scale(self, namespace: str, name: str, replicas: int) -> None: ...

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool: ...


class ServicesPort(Protocol):
    async def list(self, namespace: str) -> list[JSON]: ...

    async def set_selector(
        self,
        namespace: str,
        name: str,
        selector: Mapping[str, str],
        *,
        uid: str = "",
        resource_version: str = "",
    ) -> None:
        """Replace ``spec.selector`` only, fenced on uid and resourceVersion when given."""
        ...

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool: ...


class JobsPort(Protocol):
    async def list_for_release(self, namespace: str, release: str) -> list[JSON]: ...

    async def create(self, manifest: Mapping[str, Any]) -> None: ...

    async def delete(
        self, namespace: str, name: str, uid: str = "", resource_version: str = ""
    ) -> bool: ...


class EventsPort(Protocol):
    async def post(
        self, release: Mapping[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        """Best effort: a refused Event never fails a step."""
        ...


class KubePort(Protocol):
    """The API objects the reconciler writes (and the few it reads while acting)."""

    @property
    def releases(self) -> ReleasesPort: ...

    @property
    def deployments(self) -> DeploymentsPort: ...

    @property
    def services(self) -> ServicesPort: ...

    @property
    def jobs(self) -> JobsPort: ...

    @property
    def events(self) -> EventsPort: ...


class ObservePort(Protocol):
    """Everything ``decide()`` needs to see of one release, as one snapshot."""

    async def observe(self, body: Mapping[str, Any]) -> Observed: ...


class CheckPort(Protocol):
    """Runs HTTP checks, several at once; outcomes in the order given."""

    async def run_all(self, checks: Sequence[tuple[HttpCheck, str]]) -> list[HttpCheckOutcome]: ...


class MetricQueryPort(Protocol):
    """Asks Prometheus instant queries, several at once; results in the order given."""

    async def query_all(self, queries: Sequence[MetricQuery]) -> list[QueryResult]: ...
