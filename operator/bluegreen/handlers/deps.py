"""What handlers find in kopf's memo: built at startup, closed at cleanup."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from bluegreen.adapters.kube import Kube
from bluegreen.handlers.wakeups import Wakeups
from bluegreen.reconciler import Reconciler


@dataclass
class Dependencies:
    kube: Kube
    reconciler: Reconciler
    wakeups: Wakeups
    http_session: aiohttp.ClientSession

    async def close(self) -> None:
        await self.http_session.close()
        await self.kube.close()
