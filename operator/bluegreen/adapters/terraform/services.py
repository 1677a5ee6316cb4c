"""Services that exist before Terraform knows them: import ours, never touch others'.

Right before Terraform plans, applies or destroys, the module's two Services
are judged live (``core.service_claim``): one of ours that the state lacks (an
apply killed before it saved state, a lost state) is imported; a foreign one
stops an apply with ``ServiceNotOwned``; and a saved plan is refused if it
would write any object other than the one judged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform.cluster import TerraformCluster
from bluegreen.adapters.terraform.session import Session
from bluegreen.core import service_claim, tfstate
from bluegreen.core.infrastructure import InfrastructureInputs

log = logging.getLogger(__name__)

_SERVICES = (("stable", "service_name"), ("preview", "preview_service_name"))
"""The module's Service resources and the input naming each one."""


def service_addresses(inputs: InfrastructureInputs) -> list[tuple[str, str]]:
    """(Terraform address, Service name) of the module's two Services."""
    return [
        (f"{tfstate.SERVICE_TYPE}.{resource}", str(getattr(inputs, field)))
        for resource, field in _SERVICES
    ]


async def judge(
    cluster: TerraformCluster, inputs: InfrastructureInputs, name: str, tracked_uid: str | None
) -> tuple[service_claim.Claim, str]:
    """The verdict on the live Service ``name`` and that object's uid ("" if none)."""
    live = await cluster.service(inputs.namespace, name)
    uid = str(((live or {}).get("metadata") or {}).get("uid") or "")
    return service_claim.claim(live, tracked_uid, inputs.release), uid


async def any_of_ours(cluster: TerraformCluster, inputs: InfrastructureInputs) -> bool:
    """Whether a Service of this release exists under one of the module's names."""
    for _, name in service_addresses(inputs):
        verdict, _ = await judge(cluster, inputs, name, None)
        if verdict is service_claim.Claim.OURS:
            return True
    return False


async def claim_services(
    session: Session,
    cluster: TerraformCluster,
    inputs: InfrastructureInputs,
    *,
    destroying: bool = False,
) -> dict[str, str]:
    """Reconcile the state with the live Services before plan, apply or destroy.

    A Service of ours that the state lacks is imported, so Terraform updates
    it instead of failing on "already exists", and a destroy removes it. A
    foreign one stops an apply with ``ServiceNotOwned``; a destroy leaves it
    alone and, if the state points at its name, forgets that entry so
    Terraform, which finds objects by name, cannot delete it.

    Returns the uid of each Service found writable ("" when absent), which
    the saved plan is checked against.
    """
    tracked = tfstate.service_uids(await pull_state(session))
    judged: dict[str, str] = {}
    for address, name in service_addresses(inputs):
        verdict, uid = await judge(cluster, inputs, name, tracked.get(address))
        judged[address] = uid
        if verdict in (service_claim.Claim.ABSENT, service_claim.Claim.TRACKED):
            continue
        if destroying and verdict is not service_claim.Claim.OURS:
            # Not ours yet (foreign, or adoptable but never adopted).
            if address in tracked:
                await forget(session, address)
            continue
        if verdict is service_claim.Claim.FOREIGN:
            raise InfrastructureError(service_claim.refusal(inputs.namespace, name, inputs.release))
        if address in tracked:
            # Tracked under this name, but a newer object of ours (or one
            # handed over): Terraform reads it by name and takes it from here.
            continue
        await _import(session, inputs, address, name, uid)
    return judged


async def _import(
    session: Session, inputs: InfrastructureInputs, address: str, name: str, uid: str
) -> None:
    """Import the Service ``name``, which must still be the object ``uid`` judged."""
    await session.run(session.commands.import_resource(address, f"{inputs.namespace}/{name}"))
    # Terraform imports whatever holds the name at that instant: if the object
    # was replaced since it was judged, undo the import and refuse.
    imported = tfstate.service_uids(await pull_state(session)).get(address)
    if imported != uid:
        await forget(session, address)
        raise InfrastructureError(service_claim.refusal(inputs.namespace, name, inputs.release))
    log.info(
        "terraform state of %s: imported existing Service %s/%s (%s)",
        inputs.state_key(),
        inputs.namespace,
        name,
        address,
    )


def check_plan_targets(
    inputs: InfrastructureInputs, plan: Mapping[str, Any], judged: Mapping[str, str]
) -> None:
    """Refuse a saved plan (``show -json``) that would write a Service other than the
    one judged ours."""
    unexpected = tfstate.unexpected_targets(plan, judged)
    if unexpected:
        name = dict(service_addresses(inputs)).get(unexpected[0], unexpected[0])
        raise InfrastructureError(service_claim.refusal(inputs.namespace, name, inputs.release))


async def pull_state(session: Session) -> dict[str, Any]:
    """The release's state document (``terraform state pull``, JSON)."""
    return await session.json(session.commands.state_pull())


async def forget(session: Session, address: str) -> None:
    await session.run(session.commands.state_rm(address))
    log.warning("terraform state: %s forgotten, the live object is not ours", address)
