"""One LIST of a namespace's Services answers every release there while it is young."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bluegreen.adapters.shared_listing import ServiceSelector, SharedServiceListing


def service(name: str, **selector: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"selector": selector}}


class Lister:
    """Counts LISTs; each waits for ``release`` so callers can pile up meanwhile."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def __call__(self, namespace: str) -> list[dict[str, Any]]:
        self.calls.append(namespace)
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the API server is away")
        return [service(f"{namespace}-web", app="web"), service("headless")]


async def test_callers_at_once_share_one_list_and_keep_only_selectors() -> None:
    lister, now = Lister(), [0.0]
    listing = SharedServiceListing(lister, max_age=30, clock=lambda: now[0])
    waiting = [asyncio.create_task(listing.selectors("shop")) for _ in range(50)]
    await asyncio.sleep(0)
    lister.release.set()
    answers = await asyncio.gather(*waiting)
    assert lister.calls == ["shop"]
    assert answers[0].services == (
        ServiceSelector("shop-web", (("app", "web"),)),
        ServiceSelector("headless", ()),
    )
    assert all(a == answers[0] for a in answers)
    now[0] = 29.0
    assert (await listing.selectors("shop")).asked_at == 0.0  # aged from the asking
    await listing.selectors("cart")  # another namespace asks on its own
    assert lister.calls == ["shop", "cart"]
    now[0] = 30.0
    await listing.selectors("shop")  # old now: asked again
    assert lister.calls == ["shop", "cart", "shop"]


async def test_a_failed_list_fails_its_callers_and_is_not_kept() -> None:
    lister = Lister()
    lister.release.set()
    lister.fail_next = True
    listing = SharedServiceListing(lister, max_age=30, clock=lambda: 0.0)
    with pytest.raises(RuntimeError):
        await listing.selectors("shop")
    assert len((await listing.selectors("shop")).services) == 2
    assert lister.calls == ["shop", "shop"]


async def test_a_cancelled_caller_leaves_the_list_to_the_others() -> None:
    lister = Lister()
    listing = SharedServiceListing(lister, max_age=30, clock=lambda: 0.0)
    first = asyncio.create_task(listing.selectors("shop"))
    second = asyncio.create_task(listing.selectors("shop"))
    await asyncio.sleep(0)
    first.cancel()
    lister.release.set()
    assert len((await second).services) == 2
    assert lister.calls == ["shop"]


async def test_answers_past_their_age_are_dropped() -> None:
    lister, now = Lister(), [0.0]
    lister.release.set()
    listing = SharedServiceListing(lister, max_age=30, clock=lambda: now[0])
    await listing.selectors("gone")
    now[0] = 31.0
    await listing.selectors("shop")
    assert set(listing._answers) == {"shop"}
