"""Per-release wake-up signals: watch events set them, release daemons wait on them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bluegreen.api.v1alpha1 import RELEASE_LABEL

Key = tuple[str, str]


@dataclass
class Wakeups:
    signals: dict[Key, asyncio.Event] = field(default_factory=dict)

    def signal(self, namespace: str, name: str) -> asyncio.Event:
        return self.signals.setdefault((namespace, name), asyncio.Event())

    def wake(self, namespace: str, name: str) -> None:
        event = self.signals.get((namespace, name))
        if event is not None:
            event.set()

    def forget(self, namespace: str, name: str) -> None:
        self.signals.pop((namespace, name), None)


def wake_on_change(
    wakeups: Wakeups,
    is_own_write: Callable[[str, str, str], bool],
    release_changed: Callable[[str, str], None] = lambda namespace, name: None,
) -> Callable[[str, dict[str, Any]], None]:
    """The caches' callback: wake the release an object that changed belongs to.

    Everything cached carries the release label (EndpointSlices inherit it from
    their Service); a release is its own owner. The echo of our own status
    write is no news and wakes nothing. ``release_changed`` hears of every
    release that arrives or goes (its loop starts or stops).
    """

    def changed(kind: str, item: dict[str, Any]) -> None:
        meta = item.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if kind == "release":
            name = str(meta.get("name") or "")
            release_changed(namespace, name)
            if is_own_write(namespace, name, str(meta.get("resourceVersion", ""))):
                return
        else:
            name = str((meta.get("labels") or {}).get(RELEASE_LABEL) or "")
        if namespace and name:
            wakeups.wake(namespace, name)

    return changed
