"""The typed status of a BlueGreenRelease: all progress of a release lives here.

Every field round-trips through ``to_dict``/``from_dict`` (camelCase, as the
CRD declares it), so the operator can be killed at any instant and pick up
from what the API server stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

HISTORY_LIMIT = 10
_Plain = TypeVar("_Plain")


class Phase:
    """Values of ``status.phase``."""

    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    DEPLOYING = "Deploying"
    VERIFYING = "Verifying"
    AWAITING_PROMOTION = "AwaitingPromotion"
    SWITCHING = "Switching"
    HOLDING = "Holding"
    COMPLETE = "Complete"
    FAILED = "Failed"
    ROLLED_BACK = "RolledBack"


IN_FLIGHT_PHASES = frozenset(
    {
        Phase.PENDING,
        Phase.PROVISIONING,
        Phase.DEPLOYING,
        Phase.VERIFYING,
        Phase.AWAITING_PROMOTION,
        Phase.SWITCHING,
        Phase.HOLDING,
    }
)


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str = ""
    last_transition_time: str = ""
    observed_generation: int = 0

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Condition:
        return plain_from_dict(Condition, raw)


@dataclass(frozen=True)
class ActiveRevision:
    """The revision the stable Service selects."""

    revision: str
    deployment: str
    image: str
    replicas: int
    ready_replicas: int = 0
    switched_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self, omit_empty=True)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> ActiveRevision:
        return plain_from_dict(ActiveRevision, raw)


@dataclass(frozen=True)
class Candidate:
    """The revision being deployed and verified beside the active one."""

    revision: str
    deployment: str
    image: str
    replicas: int
    deadline: str
    started_at: str
    ready_replicas: int = 0
    ready_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self, omit_empty=True)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Candidate:
        return plain_from_dict(Candidate, raw)


@dataclass(frozen=True)
class Previous:
    """The revision kept warm during the hold, ready for an instant rollback."""

    revision: str
    deployment: str
    image: str
    delete_after: str
    draining: bool = False
    """Kept only so in-flight connections drain after a rollback; never switched back to."""

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self, omit_empty=True)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Previous:
        return plain_from_dict(Previous, raw)


@dataclass(frozen=True)
class CheckStatus:
    """The latest result of one check for one revision and stage."""

    name: str
    stage: str
    kind: str
    revision: str
    phase: str
    attempts: int = 0
    message: str = ""
    time: str = ""
    run: int = 0
    """Hold checks rerun; each run is numbered so its Job gets a fresh name."""

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> CheckStatus:
        return plain_from_dict(CheckStatus, raw)


@dataclass(frozen=True)
class InfrastructureStatus:
    applied: bool = False
    inputs_hash: str = ""
    last_apply_time: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)
    failed_inputs_hash: str = ""
    last_failure_time: str = ""
    message: str = ""
    drift: bool = False
    last_drift_check_time: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _drop_empty(
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
class HistoryEntry:
    revision: str
    image: str
    started_at: str
    finished_at: str
    outcome: str
    """Promoted, Failed, Superseded, Aborted, RolledBack."""

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> HistoryEntry:
        return plain_from_dict(HistoryEntry, raw)


@dataclass(frozen=True)
class LastAction:
    """The last human action consumed from the ``bluegreen.dev/action`` annotation."""

    action: str
    raw: str
    time: str
    result: str
    revision: str = ""

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> LastAction:
        return plain_from_dict(LastAction, raw)


@dataclass(frozen=True)
class ReleaseStatus:
    observed_generation: int = 0
    phase: str = Phase.PENDING
    revision: str = ""
    message: str = ""
    active: ActiveRevision | None = None
    preview: Candidate | None = None
    previous: Previous | None = None
    checks: tuple[CheckStatus, ...] = ()
    infrastructure: InfrastructureStatus = field(default_factory=InfrastructureStatus)
    conditions: tuple[Condition, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    last_action: LastAction | None = None
    approved_revision: str = ""
    """A revision a human approved through the annotation (promote)."""
    failed_revision: str = ""
    """A revision that failed; it is not retried until the spec asks for another."""
    served: bool = False
    """True once the stable Service has selected a revision: it must never go empty."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "observedGeneration": self.observed_generation,
            "phase": self.phase,
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
            infrastructure=InfrastructureStatus.from_dict(raw.get("infrastructure") or {}),
            conditions=tuple(Condition.from_dict(c) for c in raw.get("conditions") or ()),
            history=tuple(HistoryEntry.from_dict(h) for h in raw.get("history") or ()),
            last_action=LastAction.from_dict(last_action) if last_action else None,
            approved_revision=str(raw.get("approvedRevision") or ""),
            failed_revision=str(raw.get("failedRevision") or ""),
            served=bool(raw.get("served", False)),
        )

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)


def _drop_empty(values: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leave out empty optional fields so status stays readable in ``kubectl get -o yaml``."""
    return {k: v for k, v in values.items() if k in keep or v not in ("", None, {}, [])}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain_to_dict(value: Any, omit_empty: bool = False) -> dict[str, Any]:
    """A flat dataclass of strings, ints and bools as the camelCase dict the CRD declares.

    ``omit_empty`` leaves out "" and False so status stays readable; 0 is kept.
    """
    out = {_camel(f.name): getattr(value, f.name) for f in fields(value)}
    if omit_empty:
        out = {k: v for k, v in out.items() if v != "" and v is not False}
    return out


def plain_from_dict(cls: type[_Plain], raw: Mapping[str, Any]) -> _Plain:
    """The inverse of ``plain_to_dict``; a missing key takes the field's default."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]  # cls is a dataclass type
        kind = _KINDS[str(f.type)]
        default = f.default if f.default is not MISSING else kind()
        value = raw.get(_camel(f.name))
        values[f.name] = default if value is None else kind(value)
    return cls(**values)


_KINDS: dict[str, type] = {"str": str, "int": int, "bool": bool}
"""Field annotations are strings here (postponed evaluation): map them to constructors."""
