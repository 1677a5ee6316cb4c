"""Smoke checks through the preview Service start only once its EndpointSlices list
the candidate alone: kube-proxy follows a selector move only after the slices do,
and a check sent before would credit the candidate with another revision's answers."""

from __future__ import annotations

from bluegreen.api.conditions import Reason
from bluegreen.core import names
from bluegreen.core.actions import PatchSelector, RunHttpCheck
from bluegreen.core.decide.preview_gate import PREVIEW_SETTLING
from bluegreen.core.status import Phase

from .world import Release, http_check, make_spec, revision_of

V1, V2 = "shop:v1", "shop:v2"


def _candidate_ready_with_preview_on_v1(smoke: list[dict[str, object]]) -> Release:
    """v1 live; v2 deployed with ``smoke``, not yet available; then a hand edit points
    the preview Service back at v1 and the EndpointSlices stop following (a slow
    controller)."""
    release = Release(make_spec(V1))
    release.run(2)
    assert release.status.phase == Phase.COMPLETE
    v1 = revision_of(release.spec)
    release.spec = make_spec(V2, smoke=smoke)
    release.world.auto_ready = False
    release.step()
    v2 = revision_of(release.spec)
    assert release.status.phase == Phase.DEPLOYING
    preview = release.world.services["shop-preview"]
    preview.selector = {**(preview.selector or {}), names.REVISION_LABEL: v1}
    release.world.sync_endpoints()
    release.world.endpoints_lag = True
    release.world.set_ready(v2)
    release.world.http_outcomes[("home", v2)] = False  # v2 is broken; v1 answers fine
    return release


def _checks_of(release: Release, revision: str) -> list[RunHttpCheck]:
    return [c for c in release.actions_of(RunHttpCheck) if c.revision == revision]


def test_no_smoke_check_while_the_preview_still_reaches_another_revision() -> None:
    release = _candidate_ready_with_preview_on_v1([http_check("home")])
    v2 = revision_of(release.spec)
    release.step()
    patches = [p for p in release.actions_of(PatchSelector) if not p.stable]
    assert patches and patches[-1].revision == v2, "the preview is pointed back at v2"
    assert not _checks_of(release, v2), "no check while the slices show v1"
    assert release.status.phase == Phase.VERIFYING
    assert release.status.message == PREVIEW_SETTLING
    assert not release.world.violations

    # The slices follow: the check now reaches v2, fails, and nothing switches.
    release.world.endpoints_lag = False
    release.run(3)
    assert _checks_of(release, v2), "the check ran once settled"
    assert release.status.failed_revision == v2, release.status.message
    assert "smoke check home failed" in release.world.events[-1].message
    assert release.world.stable_revision() != v2
    assert not release.world.violations


def test_checks_with_their_own_url_do_not_wait_for_the_preview() -> None:
    # The stable Service by name: it answers (v1) while the candidate is verified.
    own_url = {"name": "home", "http": {"url": "http://shop.shop.svc", "path": "/"}}
    release = _candidate_ready_with_preview_on_v1([own_url])
    release.step()
    assert _checks_of(release, revision_of(release.spec)), "a check naming its URL goes at once"
    assert release.status.message != PREVIEW_SETTLING


def test_a_preview_that_never_settles_fails_the_candidate_and_leaves_traffic() -> None:
    """Pods of another owner carrying the candidate's labels (or slices that never
    follow) must not hold the release in Verifying without end, nor let a check
    through: past the switch timeout the candidate fails, and v1 keeps serving."""
    release = _candidate_ready_with_preview_on_v1([http_check("home")])
    v1 = release.world.stable_revision()
    v2 = revision_of(release.spec)
    release.step()
    assert release.status.message == PREVIEW_SETTLING
    release.advance(60)
    assert release.status.message == PREVIEW_SETTLING, "still within the switch timeout"
    release.advance(61)
    assert release.status.failed_revision == v2
    assert "did not reach" in release.status.message
    assert release.world.events[-1].reason == Reason.PREVIEW_NOT_SETTLED
    assert not _checks_of(release, v2), "no check ran against the wrong pods"
    assert release.world.stable_revision() == v1
    assert not release.world.violations
