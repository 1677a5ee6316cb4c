"""After a rollback, the revision traffic left keeps its pods while connections drain."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bluegreen.core.actions import DeleteDeployment
from bluegreen.core.context import ReleaseContext
from bluegreen.core.decide import build_infrastructure_inputs, decide
from bluegreen.core.infrastructure import inputs_hash
from bluegreen.core.observed import DeploymentState, Observed, ServiceState
from bluegreen.core.revision import compute_revision
from bluegreen.core.spec import parse_spec
from bluegreen.core.status import (
    ActiveRevision,
    InfrastructureStatus,
    Phase,
    Previous,
    ReleaseStatus,
)

SPEC_TEMPLATE = {"spec": {"containers": [{"name": "app", "image": "shop:v2"}]}}
BAD = compute_revision(SPEC_TEMPLATE)
"""The revision the spec still asks for, rolled back: it only drains now."""
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CTX = ReleaseContext(name="shop", namespace="shop", uid="u", generation=2, drain_seconds=5)
SPEC = {
    "replicas": 1,
    "template": SPEC_TEMPLATE,
    "service": {"name": "shop"},
    "hold": {"seconds": 0},
}


def world(selected: str, endpoints: dict[str, int]) -> Observed:
    deployments = {
        rev: DeploymentState(f"shop-{rev}", rev, "img", 1, 1, 1, 1, 1, 1) for rev in ("aaa", BAD)
    }
    return Observed(
        generation=2,
        deployments=deployments,
        stable=ServiceState(
            "shop",
            True,
            {"bluegreen.dev/release": "shop", "bluegreen.dev/revision": selected},
            "198.19.0.1",
            80,
        ),
        preview=ServiceState("shop-preview", True, None, "198.19.0.2", 80),
        stable_endpoints=endpoints,
    )


def draining_status(desired: str, delete_after: datetime) -> ReleaseStatus:
    return ReleaseStatus(
        observed_generation=2,
        phase=Phase.ROLLED_BACK,
        revision=desired,
        active=ActiveRevision("aaa", "shop-aaa", "img", 1, 1),
        previous=Previous(
            BAD, f"shop-{BAD}", "img", delete_after.strftime("%Y-%m-%dT%H:%M:%SZ"), draining=True
        ),
        failed_revision=BAD,
        served=True,
        infrastructure=InfrastructureStatus(applied=True, inputs_hash=applied_hash()),
    )


def applied_hash() -> str:
    inputs = build_infrastructure_inputs(CTX, parse_spec(SPEC))
    return inputs_hash(inputs, CTX.module_checksum)


def test_unrouted_revision_is_kept_until_the_drain_ends() -> None:
    status = draining_status(BAD, NOW + timedelta(seconds=5))
    observed = world("aaa", {"aaa": 1})
    early = decide(CTX, SPEC, status, observed, NOW + timedelta(seconds=1))
    assert not [a for a in early.actions if isinstance(a, DeleteDeployment)]
    assert early.requeue_after is not None and early.requeue_after <= 4
    late = decide(CTX, SPEC, status, observed, NOW + timedelta(seconds=6))
    assert [a.revision for a in late.actions if isinstance(a, DeleteDeployment)] == [BAD]


def test_the_drain_counts_from_the_confirmation_when_endpointslices_were_late() -> None:
    """The slices showed the rollback only after the drain counted from the patch had
    ended: the pods stay for a whole drain from then, while kube-proxy catches up."""
    patched = NOW - timedelta(seconds=8)
    switching = replace(
        draining_status(BAD, patched + timedelta(seconds=5)),
        phase=Phase.SWITCHING,
        active=ActiveRevision("aaa", "shop-aaa", "img", 1, 1, switched_at=_stamp(patched)),
    )
    confirmed = decide(CTX, SPEC, switching, world("aaa", {"aaa": 1}), NOW)
    assert confirmed.status.phase == Phase.ROLLED_BACK
    assert not [a for a in confirmed.actions if isinstance(a, DeleteDeployment)]
    previous = confirmed.status.previous
    assert previous is not None
    assert previous.delete_after == _stamp(NOW + timedelta(seconds=5))
    kept = decide(CTX, SPEC, confirmed.status, world("aaa", {"aaa": 1}), NOW + timedelta(seconds=4))
    assert not [a for a in kept.actions if isinstance(a, DeleteDeployment)]
    gone = decide(CTX, SPEC, confirmed.status, world("aaa", {"aaa": 1}), NOW + timedelta(seconds=6))
    assert [a.revision for a in gone.actions if isinstance(a, DeleteDeployment)] == [BAD]


def test_a_hold_longer_than_the_drain_keeps_its_own_end() -> None:
    ends = NOW + timedelta(seconds=60)
    switching = replace(
        draining_status(BAD, ends),
        phase=Phase.SWITCHING,
        active=ActiveRevision("aaa", "shop-aaa", "img", 1, 1, switched_at=_stamp(NOW)),
    )
    confirmed = decide(CTX, SPEC, switching, world("aaa", {"aaa": 1}), NOW)
    assert confirmed.status.previous is not None
    assert confirmed.status.previous.delete_after == _stamp(ends)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
