"""API requests a client made, counted from the API server's audit log.

The local cluster's kube-apiserver writes its audit log as JSON lines
(``--audit-log-path``, ``<cluster>/audit.log``). One request gives one event per
audit stage (RequestReceived, ResponseStarted for watches, ResponseComplete,
subject to the policy's ``omitStages``), all with the same ``auditID``; a
request is counted once, at its ``requestReceivedTimestamp``, so a watch opened
inside the window counts even if it is still open at its end.

Clients are told apart by their ``userAgent`` (a prefix: Go clients append
their version and platform). Both sides of the comparison use this module.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

RequestKey = tuple[str, str]
"""(verb, resource), the resource with its subresource: ``("update", "rollouts/status")``."""

UserAgentPrefix = str | tuple[str, ...]


def count_requests(
    audit_log_path: Path | str,
    user_agent_prefix: UserAgentPrefix,
    since: datetime,
    until: datetime,
) -> dict[RequestKey, int]:
    """Requests received from ``since`` (inclusive) to ``until`` (exclusive) per (verb, resource).

    ``since`` and ``until`` must be timezone-aware. Requests without an object
    (``/version``, ``/healthz``, discovery) count under the resource
    ``nonResource:<path>``. Rotated files next to the log (``audit-<time>.log``)
    are read too.
    """
    return scan(audit_log_path, user_agent_prefix, since, until)[0]


def scan(
    audit_log_path: Path | str,
    user_agent_prefix: UserAgentPrefix,
    since: datetime,
    until: datetime,
) -> tuple[dict[RequestKey, int], dict[str, int]]:
    """``count_requests`` and the exact user agents behind those requests, in one pass
    (the log may hold hundreds of MiB)."""
    counts: Counter[RequestKey] = Counter()
    agents: Counter[str] = Counter()
    for event in _events(Path(audit_log_path), user_agent_prefix, since, until):
        counts[(str(event.get("verb", "")), _resource(event))] += 1
        agents[str(event.get("userAgent", ""))] += 1
    return dict(sorted(counts.items())), dict(agents.most_common())


def audit_files(path: Path) -> list[Path]:
    """The log and its rotated backups (``<stem>-<timestamp><suffix>``), oldest first."""
    rotated = sorted(path.parent.glob(f"{path.stem}-*{path.suffix}"))
    return [*rotated, path] if path.is_file() else rotated


def readable(path: Path | str) -> bool:
    """Whether an audit log exists and holds at least one event."""
    return any(f.stat().st_size > 0 for f in audit_files(Path(path)))


def wait_flushed(path: Path | str, until: datetime, timeout: float = 30.0) -> bool:
    """Wait, bounded, until the log holds an event stamped at or after ``until``.

    In ``--audit-log-mode=batch`` the API server writes behind its requests: a
    count taken at once could miss the window's last ones. Make a request after
    ``until`` first, so that such an event comes.
    """
    deadline = time.monotonic() + timeout
    while True:
        last = _last_stamp(Path(path))
        if last is not None and last >= until:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def by_request(counts: dict[RequestKey, int], per: int = 1) -> dict[str, float]:
    """``{"GET rollouts": n / per}``, in the wording of BENCHMARKS.md."""
    return {
        f"{verb.upper()} {resource}": round(n / per, 2) for (verb, resource), n in counts.items()
    }


def _events(
    path: Path, prefix: UserAgentPrefix, since: datetime, until: datetime
) -> Iterator[dict[str, Any]]:
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    needles = (prefix,) if isinstance(prefix, str) else prefix
    seen_ids: set[str] = set()
    for file in audit_files(path):
        if file != path and datetime.fromtimestamp(file.stat().st_mtime, since.tzinfo) < since:
            continue  # rotated away before the window began
        with file.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                # Cheap filter before parsing: most lines are other clients'.
                if not any(n in line for n in needles):
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by rotation or still being written
                if not str(event.get("userAgent", "")).startswith(needles):
                    continue
                audit_id = str(event.get("auditID", ""))
                if audit_id in seen_ids:
                    continue
                received = event.get("requestReceivedTimestamp") or event.get("stageTimestamp")
                if not received:
                    continue
                at = datetime.fromisoformat(str(received))
                if since <= at < until:
                    seen_ids.add(audit_id)
                    yield event


def _last_stamp(path: Path, tail_bytes: int = 256 * 1024) -> datetime | None:
    """The latest ``stageTimestamp`` among the log's last lines."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - tail_bytes))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    latest: datetime | None = None
    for line in tail.splitlines()[-500:]:
        try:
            stamp = json.loads(line).get("stageTimestamp")
        except json.JSONDecodeError:
            continue  # the first, cut line
        if stamp:
            at = datetime.fromisoformat(str(stamp))
            latest = at if latest is None or at > latest else latest
    return latest


def _resource(event: dict[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    resource = str(ref.get("resource") or "")
    if not resource:
        return "nonResource:" + str(event.get("requestURI", "")).split("?", 1)[0]
    sub = ref.get("subresource")
    return f"{resource}/{sub}" if sub else resource


events_between = _events
"""The audit events of ``prefix``'s clients received in [since, until), each once."""
resource_of = _resource
"""``resource[/subresource]`` of an audit event, or ``nonResource:<path>``."""
