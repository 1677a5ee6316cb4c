"""Terraform state of a release, as stored by the kubernetes backend: reading it and
deciding whether state kept under the old, ambiguous key may move to the new one.

Pure functions of already-fetched objects; the Terraform adapter does the I/O.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bluegreen.api.v1alpha1 import MIGRATED_FROM_ANNOTATION
from bluegreen.core import ownership

STATE_SECRET_PREFIX = "tfstate-default-"
"""Terraform names the state Secret ``tfstate-<workspace>-<secret_suffix>``; we use
the default workspace only."""
LOCK_LEASE_PREFIX = "lock-" + STATE_SECRET_PREFIX
SUFFIX_LABEL = "tfstateSecretSuffix"
SERVICE_TYPE = "kubernetes_service_v1"


class StateUnreadableError(ValueError):
    """The Secret's ``tfstate`` is not base64-encoded gzipped JSON."""


def secret_name(key: str) -> str:
    return STATE_SECRET_PREFIX + key


def lease_name(key: str) -> str:
    return LOCK_LEASE_PREFIX + key


def decode_state(secret: Mapping[str, Any]) -> dict[str, Any]:
    """The state document held by a state Secret (an empty dict when it holds none)."""
    raw = (secret.get("data") or {}).get("tfstate")
    if not raw:
        return {}
    try:
        document = json.loads(gzip.decompress(base64.b64decode(raw, validate=True)))
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as err:
        raise StateUnreadableError(str(err)) from err
    if not isinstance(document, dict):
        raise StateUnreadableError("state is not a JSON object")
    return document


def _instances(state: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(resource, instance) for every managed resource instance in the state."""
    found = []
    for resource in state.get("resources") or []:
        if resource.get("mode", "managed") != "managed":
            continue
        for instance in resource.get("instances") or []:
            found.append((resource, instance))
    return found


def has_resources(state: Mapping[str, Any]) -> bool:
    """True while the state tracks any object at all."""
    return bool(_instances(state))


def _metadata(instance: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = (instance.get("attributes") or {}).get("metadata") or [{}]
    first = metadata[0] if isinstance(metadata, list) and metadata else {}
    return first if isinstance(first, Mapping) else {}


def belongs_to(state: Mapping[str, Any], namespace: str, release: str) -> bool:
    """True when the state holds something and all of it is this release's Services.

    An empty state has nothing to keep; a state holding anything else (another
    release's Services, a namespace, a resource type we do not know) may be
    another release's, and moving it would hand that release's objects over.
    """
    instances = _instances(state)
    if not instances:
        return False
    for resource, instance in instances:
        if resource.get("type") != SERVICE_TYPE or resource.get("module"):
            return False
        metadata = _metadata(instance)
        if metadata.get("namespace") != namespace:
            return False
        if ownership.service_owner(metadata.get("labels")) != release:
            return False
    return True


def service_uids(state: Mapping[str, Any]) -> dict[str, str]:
    """``<address>`` -> uid of every Service instance in a root-module state."""
    uids: dict[str, str] = {}
    for resource, instance in _instances(state):
        if resource.get("type") != SERVICE_TYPE or resource.get("module"):
            continue
        address = f"{SERVICE_TYPE}.{resource.get('name')}"
        if "index_key" in instance:
            address += f"[{json.dumps(instance['index_key'])}]"
        uids[address] = str(_metadata(instance).get("uid") or "")
    return uids


class MigrationStep(Enum):
    NOTHING = "nothing"
    COPY = "copy"
    """Create the new Secret from the legacy one, then delete the legacy one."""
    FINISH = "finish"
    """A copy was made by an interrupted run: only the legacy Secret is left to delete."""


@dataclass(frozen=True)
class Migration:
    step: MigrationStep
    reason: str


def plan_migration(
    new: Mapping[str, Any] | None,
    legacy: Mapping[str, Any] | None,
    namespace: str,
    release: str,
) -> Migration:
    """What to do with the legacy state Secret before Terraform touches the new key.

    ``new`` and ``legacy`` are the state Secrets as read (None: absent). The
    legacy key may be shared by two releases, so its state moves only when it
    provably is this release's; otherwise it is left where it is.
    """
    if legacy is None:
        return Migration(MigrationStep.NOTHING, "no legacy state")
    legacy_uid = (legacy.get("metadata") or {}).get("uid")
    if new is not None:
        annotations = (new.get("metadata") or {}).get("annotations") or {}
        if legacy_uid and annotations.get(MIGRATED_FROM_ANNOTATION) == legacy_uid:
            return Migration(MigrationStep.FINISH, "legacy state already copied")
        return Migration(MigrationStep.NOTHING, "the new state exists; legacy state left alone")
    try:
        state = decode_state(legacy)
    except StateUnreadableError as err:
        return Migration(MigrationStep.NOTHING, f"legacy state unreadable ({err}); left alone")
    if not belongs_to(state, namespace, release):
        return Migration(MigrationStep.NOTHING, "legacy state is empty or not this release's")
    return Migration(MigrationStep.COPY, "legacy state holds only this release's Services")


def migrated_secret(legacy: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The new state Secret: the legacy one's data and annotations, relabelled for ``key``."""
    metadata = legacy.get("metadata") or {}
    labels = {**(metadata.get("labels") or {}), SUFFIX_LABEL: key}
    annotations = {
        **(metadata.get("annotations") or {}),
        MIGRATED_FROM_ANNOTATION: str(metadata.get("uid") or ""),
    }
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(key),
            "namespace": metadata.get("namespace"),
            "labels": labels,
            "annotations": annotations,
        },
        "data": dict(legacy.get("data") or {}),
    }
    if legacy.get("type"):
        body["type"] = legacy["type"]
    return body


def _uid_of(values: Any) -> str:
    if not isinstance(values, Mapping):
        return ""
    metadata = values.get("metadata") or [{}]
    first = metadata[0] if isinstance(metadata, list) and metadata else {}
    return str(first.get("uid") or "") if isinstance(first, Mapping) else ""


def unexpected_targets(plan: Mapping[str, Any], judged: Mapping[str, str]) -> list[str]:
    """Addresses a saved plan would change or delete on an object other than the one judged.

    ``plan`` is ``terraform show -json <plan>``; ``judged`` maps each Service
    address to the uid of the live object found writable ("" when there was
    none). Terraform finds objects by name, so a Service replaced between the
    ownership check and the plan would otherwise be written as if it were ours.
    """
    unexpected = []
    for change in plan.get("resource_changes") or []:
        address = change.get("address")
        if address not in judged:
            continue
        actions = set((change.get("change") or {}).get("actions") or [])
        if not actions & {"update", "delete"}:
            continue
        if _uid_of((change.get("change") or {}).get("before")) != judged[address]:
            unexpected.append(str(address))
    return unexpected
