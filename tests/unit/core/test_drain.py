"""After a rollback, the revision traffic left keeps its pods while connections drain."""

from __future__ import annotations

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
