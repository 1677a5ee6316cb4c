"""Per-release wake-up signals: watch events set them, release daemons wait on them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

Key = tuple[str, str]


@dataclass
class Wakeups:
    signals: dict[Key, asyncio.Event] = field(default_factory=dict)
    services: dict[Key, str] = field(default_factory=dict)
    """(namespace, Service name) -> release, so EndpointSlice events find their release."""

    def signal(self, namespace: str, name: str) -> asyncio.Event:
        return self.signals.setdefault((namespace, name), asyncio.Event())

    def wake(self, namespace: str, name: str) -> None:
        event = self.signals.get((namespace, name))
        if event is not None:
            event.set()

    def wake_for_service(self, namespace: str, service: str) -> None:
        release = self.services.get((namespace, service))
        if release is not None:
            self.wake(namespace, release)

    def forget(self, namespace: str, name: str) -> None:
        self.signals.pop((namespace, name), None)
        for key in [k for k, v in self.services.items() if k[0] == namespace and v == name]:
            del self.services[key]
