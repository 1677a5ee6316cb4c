"""One LIST of a namespace's Services shared by every release there for a while.

The exposure warning (``reconciler.observe``) needs all Services of a namespace,
not only ours, so no watch of ours holds them. Each release listing them on its
own cost one request per release and revision; a namespace of a hundred
releases rolling out together asked the same question a hundred times within
seconds. Here the first asks, everyone waiting then shares its answer, and the
answer serves the namespace for ``max_age`` seconds: the warning already
tolerates minutes of lag for a Service created after a revision deployed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bluegreen.adapters.kube_rest import JSON

SHARED_LIST_SECONDS = 30.0
"""How long one namespace's Service list answers for every release there."""


@dataclass(frozen=True)
class ServiceSelector:
    """What the exposure warning needs of a Service: its name and selector."""

    name: str
    selector: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Listing:
    """A namespace's Services as one LIST saw them, and when it was asked."""

    asked_at: float
    services: tuple[ServiceSelector, ...]


def selectors_of(services: list[JSON]) -> tuple[ServiceSelector, ...]:
    return tuple(
        ServiceSelector(
            name=str(service["metadata"]["name"]),
            selector=tuple(sorted(((service.get("spec") or {}).get("selector") or {}).items())),
        )
        for service in services
    )


class SharedServiceListing:
    """Per namespace: the Services' selectors from one LIST, shared while it is young.

    Concurrent callers await the same request; a failed one is not kept, so the
    next caller asks again. Only selectors are kept, never whole objects.
    """

    def __init__(
        self,
        list_services: Callable[[str], Awaitable[list[JSON]]],
        max_age: float = SHARED_LIST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.list_services, self.max_age, self.clock = list_services, max_age, clock
        self._answers: dict[str, tuple[float, asyncio.Task[tuple[ServiceSelector, ...]]]] = {}

    async def selectors(self, namespace: str) -> Listing:
        """The namespace's Services; ``asked_at`` lets a caller age the answer from
        when it was asked, not from when the caller got it."""
        now = self.clock()
        known = self._answers.get(namespace)
        if known is None or now - known[0] >= self.max_age or _failed(known[1]):
            self._forget_old(now)
            known = (now, asyncio.create_task(self._list(namespace)))
            self._answers[namespace] = known
        # Shielded: one caller cancelled (its release deleted) must not fail the others.
        return Listing(known[0], await asyncio.shield(known[1]))

    async def _list(self, namespace: str) -> tuple[ServiceSelector, ...]:
        return selectors_of(await self.list_services(namespace))

    def _forget_old(self, now: float) -> None:
        """Drop answers past their age, so namespaces gone long ago hold no memory."""
        for namespace, (asked, task) in list(self._answers.items()):
            if now - asked >= self.max_age and task.done():
                del self._answers[namespace]


def _failed(task: asyncio.Task[tuple[ServiceSelector, ...]]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)
