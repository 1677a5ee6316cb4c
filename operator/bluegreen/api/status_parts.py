"""The blocks of a BlueGreenRelease's status, each with its CRD schema per field.

Every field round-trips through ``to_dict``/``from_dict`` as the camelCase key
the CRD declares, so the operator can be killed at any instant and pick up
from what the API server stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Final, TypeVar

from bluegreen.api.conditions import ConditionStatus
from bluegreen.api.enums import (
    CheckKind,
    CheckPhase,
    CheckStage,
    HookPhase,
    HookPoint,
    MetricVerdict,
    Outcome,
    one_of,
)
from bluegreen.api.limits import (
    CONDITION_MESSAGE_MAX_CHARS,
    CONDITION_REASON_MAX_CHARS,
    CONDITION_TYPE_MAX_CHARS,
)
from bluegreen.api.schema import camel, doc

_Plain = TypeVar("_Plain")

_REVISION: Final = doc("The revision.")
_DEPLOYMENT: Final = doc("Its Deployment.")
_IMAGE: Final = doc("The image of its first container.")
_REPLICAS: Final = doc("Desired replicas.")
_READY_REPLICAS: Final = doc("Ready replicas last observed.")
_RESTARTS: Final = doc(
    "Container restarts of its pods when it became available: more since is a crash loop."
)


@dataclass(frozen=True)
class Condition:
    type: str = field(
        metadata=doc("The condition's type, in CamelCase.", max_length=CONDITION_TYPE_MAX_CHARS)
    )
    status: str = field(metadata=doc(f"{one_of(ConditionStatus)}.", enum=ConditionStatus))
    reason: str = field(
        metadata=doc(
            "A CamelCase reason for the last transition.", max_length=CONDITION_REASON_MAX_CHARS
        )
    )
    message: str = field(
        default="", metadata=doc("Details, in words.", max_length=CONDITION_MESSAGE_MAX_CHARS)
    )
    last_transition_time: str = field(
        default="", metadata=doc("When the status last changed (RFC 3339).")
    )
    observed_generation: int = field(
        default=0,
        # metadata.generation is an int64; every other integer of status fits int32.
        metadata=doc("The metadata.generation the condition was set for.", format="int64"),
    )

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Condition:
        return plain_from_dict(Condition, raw)


@dataclass(frozen=True)
class ActiveRevision:
    """The revision the stable Service selects."""

    revision: str = field(metadata=_REVISION)
    deployment: str = field(metadata=_DEPLOYMENT)
    image: str = field(metadata=_IMAGE)
    replicas: int = field(metadata=_REPLICAS)
    ready_replicas: int = field(default=0, metadata=_READY_REPLICAS)
    switched_at: str = field(
        default="", metadata=doc("When traffic was switched to it (RFC 3339).")
    )
    restarts: int = field(default=0, metadata=_RESTARTS)

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self, omit_empty=True)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> ActiveRevision:
        return plain_from_dict(ActiveRevision, raw)


@dataclass(frozen=True)
class Candidate:
    """The revision being deployed and verified beside the active one."""

    revision: str = field(metadata=_REVISION)
    deployment: str = field(metadata=_DEPLOYMENT)
    image: str = field(metadata=_IMAGE)
    replicas: int = field(metadata=_REPLICAS)
    deadline: str = field(metadata=doc("When the readiness timeout expires (RFC 3339)."))
    started_at: str = field(metadata=doc("When the candidate was started (RFC 3339)."))
    ready_replicas: int = field(default=0, metadata=_READY_REPLICAS)
    ready_at: str = field(
        default="", metadata=doc("When the candidate became Available (RFC 3339).")
    )
    restarts: int = field(default=0, metadata=_RESTARTS)

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self, omit_empty=True)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Candidate:
        return plain_from_dict(Candidate, raw)


@dataclass(frozen=True)
class Previous:
    """The revision kept warm during the hold, ready for an instant rollback."""

    revision: str = field(metadata=_REVISION)
    deployment: str = field(metadata=_DEPLOYMENT)
    image: str = field(metadata=_IMAGE)
    delete_after: str = field(metadata=doc("When its Deployment may be deleted (RFC 3339)."))
    draining: bool = field(
        default=False,
        metadata=doc(
            "True after a rollback or revert - kept only while connections drain, never "
            "switched back to."
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self, omit_empty=True)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Previous:
        return plain_from_dict(Previous, raw)


@dataclass(frozen=True)
class CheckStatus:
    """The latest result of one check for one revision and stage."""

    name: str = field(metadata=doc("The check's name."))
    stage: str = field(metadata=doc(f"{one_of(CheckStage)}."))
    kind: str = field(metadata=doc(f"{one_of(CheckKind)}."))
    revision: str = field(metadata=doc("The revision checked."))
    phase: str = field(metadata=doc(f"{one_of(CheckPhase)}."))
    attempts: int = field(default=0, metadata=doc("Attempts made."))
    message: str = field(default="", metadata=doc("The outcome, in words."))
    time: str = field(default="", metadata=doc("When this result was recorded (RFC 3339)."))
    run: int = field(
        default=0,
        metadata=doc("The run number; hold checks rerun and each run gets a fresh Job."),
    )
    value: str = field(
        default="",
        metadata=doc("Metric checks: the last value the query gave; empty for no data."),
    )
    baseline: str = field(
        default="",
        metadata=doc("Metric checks: the previous revision's value it was compared with."),
    )
    verdict: str = field(
        default="",
        metadata=doc(f"Metric checks: what the last evaluation said, {one_of(MetricVerdict)}."),
    )
    failures: int = field(default=0, metadata=doc("Metric checks: failed evaluations in a row."))
    inconclusive_since: str = field(
        default="",
        metadata=doc(
            "Metric checks: when the evaluations in a row without an answer began (RFC 3339)."
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        out = plain_to_dict(self)
        # The metric fields only where they say something: HTTP and Job checks stay short.
        for key in _METRIC_ONLY:
            if out[key] in ("", 0):
                del out[key]
        return out

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> CheckStatus:
        return plain_from_dict(CheckStatus, raw)


_METRIC_ONLY: Final = ("value", "baseline", "verdict", "failures", "inconclusiveSince")


@dataclass(frozen=True)
class HookStatus:
    """One hook of one revision: its Job and how it went."""

    name: str = field(metadata=doc("The hook's name."))
    point: str = field(metadata=doc(f"When it runs: {one_of(HookPoint)}."))
    revision: str = field(metadata=doc("The revision it ran for."))
    phase: str = field(metadata=doc(f"{one_of(HookPhase)}."))
    previous_revision: str = field(
        default="", metadata=doc("The revision before it, as the Job was told.")
    )
    job: str = field(default="", metadata=doc("The Job's name."))
    attempt: int = field(
        default=1,
        metadata=doc("Attempts at the revision: a new attempt runs a failed hook again."),
    )
    message: str = field(default="", metadata=doc("The outcome, in words."))
    started_at: str = field(default="", metadata=doc("When its Job was created (RFC 3339)."))
    finished_at: str = field(default="", metadata=doc("When it finished (RFC 3339)."))

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self, omit_empty=True)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> HookStatus:
        return plain_from_dict(HookStatus, raw)


@dataclass(frozen=True)
class HistoryEntry:
    revision: str = field(metadata=_REVISION)
    image: str = field(metadata=_IMAGE)
    started_at: str = field(metadata=doc("When its release started (RFC 3339)."))
    finished_at: str = field(metadata=doc("When its release ended (RFC 3339)."))
    outcome: str = field(metadata=doc(f"{one_of(Outcome)}."))

    def to_dict(self) -> dict[str, Any]:
        return plain_to_dict(self)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> HistoryEntry:
        return plain_from_dict(HistoryEntry, raw)


def plain_to_dict(value: Any, omit_empty: bool = False) -> dict[str, Any]:
    """A flat dataclass of strings, ints and bools as the camelCase dict the CRD declares.

    ``omit_empty`` leaves out "" and False so status stays readable; 0 is kept.
    Enum members are written as their plain string: JSON and YAML writers alike
    must see only built-in types.
    """
    out = {key: _builtin(getattr(value, name)) for name, key, _, _ in _layout(type(value))}
    if omit_empty:
        out = {k: v for k, v in out.items() if v != "" and v is not False}
    return out


def plain_from_dict(cls: type[_Plain], raw: Mapping[str, Any]) -> _Plain:
    """The inverse of ``plain_to_dict``; a missing key takes the field's default."""
    values: dict[str, Any] = {}
    for name, key, kind, default in _layout(cls):
        value = raw.get(key)
        values[name] = default if value is None else kind(value)
    return cls(**values)


_Layout = tuple[tuple[str, str, type, Any], ...]
_LAYOUTS: dict[type, _Layout] = {}


def _layout(cls: type) -> _Layout:
    """Per field: its name, its camelCase key, its constructor and its default.

    Computed once per class: every step reads and writes the whole status, and
    deriving these again for each field of each record was a twentieth of the
    operator's CPU with a thousand releases.
    """
    known = _LAYOUTS.get(cls)
    if known is not None:
        return known
    layout = []
    for f in fields(cls):
        kind = _KINDS[str(f.type)]
        default = f.default if f.default is not MISSING else kind()
        layout.append((f.name, camel(f.name), kind, default))
    return _LAYOUTS.setdefault(cls, tuple(layout))


def drop_empty(values: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leave out empty optional fields so status stays readable in ``kubectl get -o yaml``."""
    return {k: v for k, v in values.items() if k in keep or v not in ("", None, {}, [])}


def _builtin(value: Any) -> Any:
    return str(value) if isinstance(value, str) else value


_KINDS: dict[str, type] = {"str": str, "int": int, "bool": bool}
"""Field annotations are strings here (postponed evaluation): map them to constructors."""
