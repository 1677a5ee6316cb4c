"""Leader election on a ``coordination.k8s.io/v1`` Lease: the rules, without I/O.

The protocol is client-go's, so any tool that reads Leases understands ours:
a candidate takes the Lease when it is free (no holder, or released) or when
its record has not changed for ``lease_duration`` *as observed locally*. Clocks
of different machines are never compared: each candidate measures how long it
has seen the same record on its own monotonic clock.

The holder renews every ``retry_period``. It must stop acting before anyone
can take over: another candidate takes over no earlier than ``lease_duration``
after our last renewal *reached the API server*, which was no earlier than
when we *sent* it; so the holder trusts its leadership only until
``renew_deadline`` (< ``lease_duration``) after sending its last successful
renewal. A paused process (SIGSTOP) resumes with a monotonic clock that kept
running, so the same rule fences it the moment it wakes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from bluegreen.api.timefmt import format_micro_time


@dataclass(frozen=True)
class LeaseTimings:
    lease_duration: float = 10.0
    """Seconds a record must stay unchanged before a candidate takes the Lease over."""
    renew_deadline: float = 7.0
    """Seconds after sending its last successful renewal that a leader still acts."""
    retry_period: float = 2.0
    """Seconds between attempts to acquire or renew."""

    def problem(self) -> str | None:
        """Why these timings could let two leaders act at once; None when they are safe."""
        if min(self.lease_duration, self.renew_deadline, self.retry_period) <= 0:
            return "lease timings must be positive"
        if self.renew_deadline >= self.lease_duration:
            return "the renew deadline must be shorter than the lease duration"
        if self.retry_period >= self.renew_deadline:
            return "the retry period must be shorter than the renew deadline"
        return None


@dataclass(frozen=True)
class LeaseRecord:
    """The fields of a Lease's spec that the protocol reads and writes."""

    holder: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0

    @staticmethod
    def from_lease(lease: dict[str, object] | None) -> LeaseRecord | None:
        if lease is None:
            return None
        spec = lease.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        return LeaseRecord(
            holder=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=_int(spec.get("leaseDurationSeconds")),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            transitions=_int(spec.get("leaseTransitions")),
        )

    def to_spec(self) -> dict[str, object]:
        spec: dict[str, object] = {
            "holderIdentity": self.holder or None,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": self.acquire_time or None,
            "renewTime": self.renew_time or None,
            "leaseTransitions": self.transitions,
        }
        return spec


class Move(enum.Enum):
    CREATE = "create"
    """No Lease yet: create it, holding it."""
    TAKE = "take"
    """Free or expired: write ourselves as the holder (fenced on resourceVersion)."""
    RENEW = "renew"
    """Ours: write a fresh renewTime (fenced on resourceVersion)."""
    WAIT = "wait"
    """Another candidate holds it and renews it: watch, write nothing."""


@dataclass(frozen=True)
class Observation:
    """A candidate's local memory of the Lease: the record and when it last changed."""

    record: LeaseRecord | None
    changed_at: float
    """Our monotonic clock when we first saw this record."""


def observe(previous: Observation | None, record: LeaseRecord | None, now: float) -> Observation:
    """Remember when the record changed; an unchanged record keeps its first sighting."""
    if previous is not None and previous.record == record:
        return previous
    return Observation(record, now)


def next_move(me: str, observation: Observation, timings: LeaseTimings, now: float) -> Move:
    record = observation.record
    if record is None:
        return Move.CREATE
    if record.holder == me:
        return Move.RENEW
    if not record.holder:
        return Move.TAKE  # released by a leader that shut down cleanly
    duration = record.lease_duration_seconds or timings.lease_duration
    if now - observation.changed_at >= duration:
        return Move.TAKE
    return Move.WAIT


def claimed(
    me: str, move: Move, current: LeaseRecord | None, timings: LeaseTimings, at: datetime
) -> LeaseRecord:
    """The record to write for ``move`` (CREATE, TAKE or RENEW)."""
    stamp = format_micro_time(at)
    duration = max(1, round(timings.lease_duration))
    if move is Move.RENEW and current is not None:
        return replace(current, renew_time=stamp, lease_duration_seconds=duration)
    return LeaseRecord(
        holder=me,
        lease_duration_seconds=duration,
        acquire_time=stamp,
        renew_time=stamp,
        transitions=0 if current is None else current.transitions + 1,
    )


def released(current: LeaseRecord, at: datetime) -> LeaseRecord:
    """What a leader that stops cleanly writes: no holder, so a standby takes over now."""
    return replace(current, holder="", renew_time=format_micro_time(at))


def leading_until(sent_at: float, timings: LeaseTimings) -> float:
    """The monotonic instant after which a leader must no longer act on a renewal
    it sent at ``sent_at``."""
    return sent_at + timings.renew_deadline


def _int(value: object) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0
