"""What handlers find in kopf's memo: built at startup, closed at cleanup."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from bluegreen.adapters.caches import Caches
from bluegreen.adapters.kube import Kube
from bluegreen.handlers.loops import ReleaseLoops
from bluegreen.handlers.wakeups import Wakeups
from bluegreen.reconciler import Reconciler
from bluegreen.reconciler.observe import CacheObserver


@dataclass
class Dependencies:
    kube: Kube
    caches: Caches
    observer: CacheObserver
    reconciler: Reconciler
    wakeups: Wakeups
    http_session: aiohttp.ClientSession
    loops: ReleaseLoops

    async def close(self) -> None:
        await self.loops.close()
        await self.caches.close()
        await self.http_session.close()
        await self.kube.close()
