"""What the page shows, as JSON: releases, their Events, and what could not be read."""

from __future__ import annotations

import json

from dashboard_samples import NOW, V1, V2, event, holding, release, two_releases_events

from bluegreen.plugin.dashboard.snapshot import EVENTS_SHOWN, Scope, snapshot

SCOPE = Scope("shop", "kind-dev", "https://127.0.0.1:6443")


def test_a_release_with_its_revisions_timeline_and_events() -> None:
    page = snapshot(SCOPE, [holding()], two_releases_events(), [], NOW)
    assert json.loads(json.dumps(page)) == page  # JSON as it is
    assert page["scope"] == "namespace shop" and page["context"] == "kind-dev"
    assert page["generatedAt"] == "2026-11-26T12:00:00Z" and page["problems"] == []
    (card,) = page["releases"]
    assert card["key"] == "shop/shop" and card["phase"] == "Holding"
    assert card["verdict"] == "pending"
    assert card["revisions"] == {"desired": V2, "active": V2, "preview": "-", "previous": V1}
    assert card["ready"] == "2/2" and card["image"] == "shop:v2"
    assert card["hold"] == "1m left (deleteAfter 2026-11-26T12:01:00Z)"
    assert card["age"] == "1h"
    assert [c["type"] for c in card["conditions"]] == ["Ready", "Reconciling"]
    assert card["timeline"].startswith("<svg ") and 'data-step="hold"' in card["timeline"]
    # Newest first, with how long ago.
    assert [e["reason"] for e in card["events"][:2]] == ["TrafficSwitched", "CandidateReady"]
    assert card["events"][0]["ago"] == "8m58s ago"


def test_releases_are_sorted_and_events_go_to_their_own_release() -> None:
    cart = release(phase="Deploying")
    cart["metadata"].update(name="cart", namespace="a", uid="uid-cart")
    events = [
        event("CandidateCreated", "11:59:00", "cart's", name="cart", namespace="a", uid="uid-cart"),
        *two_releases_events(),
    ]
    page = snapshot(Scope(None, "c", "s"), [holding(), cart], events, [], NOW)
    assert page["scope"] == "all namespaces"
    assert [r["key"] for r in page["releases"]] == ["a/cart", "shop/shop"]
    assert [e["message"] for e in page["releases"][0]["events"]] == ["cart's"]
    assert "cart's" not in {e["message"] for e in page["releases"][1]["events"]}


def test_only_the_latest_events_of_a_release() -> None:
    many = [event("Progress", f"11:{m:02d}:00", str(m)) for m in range(40)]
    (card,) = snapshot(SCOPE, [holding()], many, [], NOW)["releases"]
    assert len(card["events"]) == EVENTS_SHOWN
    assert card["events"][0]["message"] == "39"


def test_problems_and_loading_are_passed_on() -> None:
    problem = "bluegreenreleases: forbidden: cannot list"
    page = snapshot(SCOPE, [], [], [problem], NOW, loading=True)
    assert page["problems"] == [problem] and page["loading"] is True
    assert page["releases"] == []


def test_a_release_without_status() -> None:
    bare = release()
    del bare["status"]
    (card,) = snapshot(SCOPE, [bare], [], [], NOW)["releases"]
    assert card["phase"] == "Unknown" and card["hold"] == "-" and card["events"] == []
    assert "No release recorded yet." in card["timeline"]
