"""The typed status of a BlueGreenRelease: all progress of a release lives here.

Every field round-trips through ``to_dict``/``from_dict`` (camelCase, as the
CRD declares it), so the operator can be killed at any instant and pick up
from what the API server stored. ``crd`` generates the status schema from
these fields' metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bluegreen.api.conditions import CONDITION_ORDER
from bluegreen.api.enums import Phase
from bluegreen.api.human_actions import MAX_ACTION_CHARS, ActionVerb
from bluegreen.api.schema import doc, item_doc
from bluegreen.api.status_parts import (
    ActiveRevision,
    Candidate,
    CheckStatus,
    Condition,
    HistoryEntry,
    HookStatus,
    Previous,
    drop_empty,
    plain_from_dict,
    plain_to_dict,
)
from bluegreen.api.v1alpha1 import ACTION_ANNOTATION

HISTORY_LIMIT: Final = 10

__all__ = [
    "HISTORY_LIMIT",
    "ActiveRevision",
    "Candidate",
    "CheckStatus",
    "Condition",
    "HistoryEntry",
    "InfrastructureStatus",
    "LastAction",
    "Previous",
    "ReleaseStatus",
]


@dataclass(frozen=True)
class InfrastructureStatus:
    applied: bool = field(
        default=False, metadata=doc("Terraform applied successfully for the current inputs.")
    )
    inputs_hash: str = field(
        default="", metadata=doc("Hash of the inputs of the last successful apply.")
    )
    last_apply_time: str = field(
        default="", metadata=doc("When Terraform last applied successfully (RFC 3339).")
    )
    outputs: Mapping[str, str] = field(default_factory=dict, metadata=doc("The module's outputs."))
    failed_inputs_hash: str = field(
        default="",
        metadata=doc("Hash of inputs whose apply failed; not retried until they change."),
    )
    last_failure_time: str = field(
        default="", metadata=doc("When an apply last failed (RFC 3339).")
    )
    message: str = field(default="", metadata=doc("The last Terraform error, if any."))
    drift: bool = field(default=False, metadata=doc("A plan found changes made outside Terraform."))
    last_drift_check_time: str = field(
        default="", metadata=doc("When drift was last checked (RFC 3339).")
    )

    def to_dict(self) -> dict[str, Any]:
        return drop_empty(
            {
                "applied": self.applied,
                "inputsHash": self.inputs_hash,
                "lastApplyTime": self.last_apply_time,
                "outputs": dict(self.outputs),
                "failedInputsHash": self.failed_inputs_hash,
                "lastFailureTime": self.last_failure_time,
                "message": self.message,
                "drift": self.drift,
                "lastDriftCheckTime": self.last_drift_check_time,
            },
            keep=("applied", "drift"),
        )

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> InfrastructureStatus:
        return InfrastructureStatus(
            applied=bool(raw.get("applied", False)),
            inputs_hash=str(raw.get("inputsHash", "")),
            last_apply_time=str(raw.get("lastApplyTime", "")),
            outputs={str(k): str(v) for k, v in (raw.get("outputs") or {}).items()},
            failed_inputs_hash=str(raw.get("failedInputsHash", "")),
            last_failure_time=str(raw.get("lastFailureTime", "")),
            message=str(raw.get("message", "")),
            drift=bool(raw.get("drift", False)),
            last_drift_check_time=str(raw.get("lastDriftCheckTime", "")),
        )


@dataclass(frozen=True)
class LastAction:
    """The last human action consumed from the ``bluegreen.dev/action`` annotation."""

    action: str = field(metadata=doc(f"The action ({', '.join(ActionVerb)})."))
    raw: str = field(
        metadata=doc(
            f"The annotation's value as written; one over {MAX_ACTION_CHARS} characters "
            "as its start, its length and a digest."
        )
    )
    time: str = field(metadata=doc("When it was consumed (RFC 3339)."))
    result: str = field(metadata=doc("What the operator did with it."))
    revision: str = field(default="", metadata=doc("The revision it applied to."))

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> LastAction:
        return plain_from_dict(LastAction, raw)


_CONDITIONS_DOC: Final = (
    f"kstatus conditions: {', '.join(CONDITION_ORDER)} (False when a Service other than "
    "the release's own selects its pods)."
)


@dataclass(frozen=True)
class ReleaseStatus:
    observed_generation: int = field(
        default=0,
        metadata=doc("The metadata.generation this status was computed for.", format="int64"),
    )
    phase: str = field(
        default=Phase.PENDING, metadata=doc("Where the current release stands.", enum=Phase)
    )
    revision: str = field(
        default="", metadata=doc("The revision the spec asks for (a hash of spec.template).")
    )
    message: str = field(default="", metadata=doc("A human-readable summary of the current step."))
    active: ActiveRevision | None = field(
        default=None,
        metadata=doc(
            "The revision the stable Service selects; null before the first switch.",
            nullable=True,
        ),
    )
    preview: Candidate | None = field(
        default=None,
        metadata=doc(
            "The candidate being deployed and verified; null when none is in flight.",
            nullable=True,
        ),
    )
    previous: Previous | None = field(
        default=None,
        metadata=doc(
            "The revision kept warm during the hold; null when there is none.", nullable=True
        ),
    )
    checks: tuple[CheckStatus, ...] = field(
        default=(), metadata=doc("The latest result of each check, per revision and stage.")
    )
    hooks: tuple[HookStatus, ...] = field(
        default=(), metadata=doc("Each migration hook of the live revisions, and its Job.")
    )
    infrastructure: InfrastructureStatus = field(
        default_factory=InfrastructureStatus,
        metadata=doc("The state of the Terraform-managed infrastructure."),
    )
    conditions: tuple[Condition, ...] = field(
        default=(),
        metadata=doc(
            _CONDITIONS_DOC,
            list_map_keys=("type",),
            items=item_doc(required=("type", "status")),
        ),
    )
    history: tuple[HistoryEntry, ...] = field(
        default=(), metadata=doc("The last releases, oldest first.")
    )
    last_action: LastAction | None = field(
        default=None,
        metadata=doc(
            f"The last human action consumed from the {ACTION_ANNOTATION} annotation.",
            nullable=True,
        ),
    )
    approved_revision: str = field(
        default="",
        metadata=doc("A revision a human approved through the annotation.", nullable=True),
    )
    failed_revision: str = field(
        default="",
        metadata=doc(
            "A revision that failed; it is not retried until the spec asks for another.",
            nullable=True,
        ),
    )
    served: bool = field(
        default=False,
        metadata=doc(
            "True once the stable Service has selected a revision; it must never select "
            "nothing again."
        ),
    )
    selector: str = field(
        default="",
        metadata=doc(
            "The label selector of the active revision's pods, as a string (empty before the "
            "first switch): the scale subresource's selector, which a HorizontalPodAutoscaler "
            "reads to find the pods whose metrics drive spec.replicas."
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        return (
            {
                "observedGeneration": self.observed_generation,
                "phase": str(self.phase),
                "revision": self.revision,
                "message": self.message,
                "active": self.active.to_dict() if self.active else None,
                "preview": self.preview.to_dict() if self.preview else None,
                "previous": self.previous.to_dict() if self.previous else None,
                "checks": [c.to_dict() for c in self.checks],
                "infrastructure": self.infrastructure.to_dict(),
                "conditions": [c.to_dict() for c in self.conditions],
                "history": [h.to_dict() for h in self.history],
                "lastAction": self.last_action.to_dict() if self.last_action else None,
                "approvedRevision": self.approved_revision or None,
                "failedRevision": self.failed_revision or None,
                "served": self.served,
            }
            | ({"selector": self.selector} if self.selector else {})
            | ({"hooks": [h.to_dict() for h in self.hooks]} if self.hooks else {})
        )

    @staticmethod
    def from_dict(raw: Mapping[str, Any] | None) -> ReleaseStatus:
        raw = raw or {}

        def block(key: str) -> Mapping[str, Any] | None:
            value = raw.get(key)
            return value if isinstance(value, Mapping) and value.get("revision") else None

        active, preview, previous = block("active"), block("preview"), block("previous")
        last_action = raw.get("lastAction")
        return ReleaseStatus(
            observed_generation=int(raw.get("observedGeneration") or 0),
            phase=str(raw.get("phase") or Phase.PENDING),
            revision=str(raw.get("revision") or ""),
            message=str(raw.get("message") or ""),
            active=ActiveRevision.from_dict(active) if active else None,
            preview=Candidate.from_dict(preview) if preview else None,
            previous=Previous.from_dict(previous) if previous else None,
            checks=tuple(CheckStatus.from_dict(c) for c in raw.get("checks") or ()),
            hooks=tuple(HookStatus.from_dict(h) for h in raw.get("hooks") or ()),
            infrastructure=InfrastructureStatus.from_dict(raw.get("infrastructure") or {}),
            conditions=tuple(Condition.from_dict(c) for c in raw.get("conditions") or ()),
            history=tuple(HistoryEntry.from_dict(h) for h in raw.get("history") or ()),
            last_action=LastAction.from_dict(last_action) if last_action else None,
            approved_revision=str(raw.get("approvedRevision") or ""),
            failed_revision=str(raw.get("failedRevision") or ""),
            served=bool(raw.get("served", False)),
            selector=str(raw.get("selector") or ""),
        )

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)
