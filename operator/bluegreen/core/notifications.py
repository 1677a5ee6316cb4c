"""When a release's change is worth a notification, and where a release asks it sent. Pure.

A notification goes out when a status write moves the phase: the operator's
own record of progress, so a notification never claims more than status does,
and a step that is retried (nothing written) notifies nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from bluegreen.api.conditions import ConditionStatus, ConditionType
from bluegreen.api.notifications import (
    NOTIFY_FORMAT_ANNOTATION,
    NOTIFY_WEBHOOK_ANNOTATION,
    Notification,
    NotifyFormat,
)
from bluegreen.api.status import ReleaseStatus

MAX_URL_CHARS = 2048


def phase_change(
    namespace: str, name: str, before: ReleaseStatus, after: ReleaseStatus, time: str
) -> Notification | None:
    """The notification for a status write from ``before`` to ``after``; None if the
    phase stayed the same."""
    if before.phase == after.phase:
        return None
    stalled = after.condition(ConditionType.STALLED)
    explaining = (
        stalled
        if stalled is not None and stalled.status == ConditionStatus.TRUE
        else after.condition(ConditionType.READY)
    )
    reason = explaining.reason if explaining is not None else str(after.phase)
    return Notification(
        release=name,
        namespace=namespace,
        revision=after.revision,
        phase=str(after.phase),
        previous_phase=str(before.phase),
        reason=reason,
        message=after.message,
        time=time,
        active_revision=after.active.revision if after.active else "",
    )


@dataclass(frozen=True)
class Webhook:
    url: str
    form: NotifyFormat = NotifyFormat.JSON


def webhook_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook, or None. The host is judged by the adapter."""
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https"):
        return "not an http or https URL"
    if not parts.hostname:
        return "no host"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not accepted; put the secret in the path"
    return None


def release_webhook(annotations: Mapping[str, str]) -> tuple[Webhook | None, str]:
    """The webhook a release's annotations ask for, or None; and why it was refused, if it was."""
    url = str(annotations.get(NOTIFY_WEBHOOK_ANNOTATION) or "").strip()
    if not url:
        return None, ""
    problem = webhook_problem(url)
    if problem is not None:
        return None, f"{NOTIFY_WEBHOOK_ANNOTATION}: {problem}"
    form = str(annotations.get(NOTIFY_FORMAT_ANNOTATION) or NotifyFormat.JSON).strip().lower()
    if form not in tuple(NotifyFormat):
        return None, f"{NOTIFY_FORMAT_ANNOTATION}: {form!r} is not one of {', '.join(NotifyFormat)}"
    return Webhook(url, NotifyFormat(form)), ""
