"""Which status writes notify, what the payload says, which release webhooks are taken."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bluegreen.api.notifications import (
    NOTIFY_FORMAT_ANNOTATION,
    NOTIFY_WEBHOOK_ANNOTATION,
    Notification,
    NotifyFormat,
)
from bluegreen.api.status import ActiveRevision, Condition, ReleaseStatus
from bluegreen.core.notifications import Webhook, phase_change, release_webhook, webhook_problem

T = "2026-11-26T12:00:00Z"


def cond(kind: str, status: str, reason: str, message: str = "") -> Condition:
    return Condition(kind, status, reason, message, T, 3)


HOLDING = ReleaseStatus(
    observed_generation=3,
    phase="Holding",
    revision="77aa",
    message="holding 91ab",
    active=ActiveRevision("77aa", "shop-77aa", "shop:v2", 3, 3),
)


def test_no_phase_change_no_notification() -> None:
    after = replace(HOLDING, message="still holding")
    assert phase_change("ns", "shop", HOLDING, after, T) is None


def test_a_rollback_explains_itself_with_the_stalled_reason() -> None:
    after = replace(
        HOLDING,
        phase="RolledBack",
        message="hold check error-rate failed",
        active=ActiveRevision("91ab", "shop-91ab", "shop:v1", 3, 3),
        conditions=(
            cond("Ready", "False", "RolledBack"),
            cond("Stalled", "True", "HoldCheckFailed", "hold check error-rate failed"),
        ),
    )
    note = phase_change("prod", "shop", HOLDING, after, T)
    assert note == Notification(
        release="shop",
        namespace="prod",
        revision="77aa",
        phase="RolledBack",
        previous_phase="Holding",
        reason="HoldCheckFailed",
        message="hold check error-rate failed",
        time=T,
        active_revision="91ab",
    )
    assert note.failed


def test_progress_is_explained_by_the_ready_reason() -> None:
    before = replace(HOLDING, phase="Verifying")
    after = replace(HOLDING, conditions=(cond("Stalled", "False", "Progressing"),
                                         cond("Ready", "False", "Holding")))  # fmt: skip
    note = phase_change("ns", "shop", before, after, T)
    assert note is not None and note.reason == "Holding" and not note.failed


def test_without_conditions_the_phase_is_the_reason() -> None:
    note = phase_change("ns", "shop", ReleaseStatus(), replace(HOLDING, conditions=()), T)
    assert note is not None and note.reason == "Holding" and note.previous_phase == "Pending"


def test_json_payload_keys() -> None:
    note = phase_change("ns", "shop", ReleaseStatus(), HOLDING, T)
    assert note is not None
    assert note.body(NotifyFormat.JSON) == {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenReleaseNotification",
        "release": "shop",
        "namespace": "ns",
        "revision": "77aa",
        "phase": "Holding",
        "previousPhase": "Pending",
        "reason": "Holding",
        "message": "holding 91ab",
        "activeRevision": "77aa",
        "time": T,
    }


def test_slack_text() -> None:
    note = Notification("shop", "prod", "77aa", "RolledBack", "Holding", "HoldCheckFailed",
                        "error rate 20%", T, "91ab")  # fmt: skip
    assert note.body(NotifyFormat.SLACK) == {
        "text": ":leftwards_arrow_with_hook: *prod/shop* Holding → *RolledBack* "
        "(revision `77aa`, serving `91ab`)\nHoldCheckFailed: error rate 20%"
    }


def test_a_long_message_is_cut() -> None:
    note = Notification("s", "n", "r", "Failed", "Verifying", "X", "m" * 5000, T)
    assert len(note.to_json()["message"]) == 1024
    assert len(note.to_text()) < 1200


@pytest.mark.parametrize(
    ("annotations", "expected", "problem"),
    [
        ({}, None, ""),
        ({NOTIFY_WEBHOOK_ANNOTATION: " "}, None, ""),
        ({NOTIFY_WEBHOOK_ANNOTATION: "https://hooks.example/T/B/x"},
         Webhook("https://hooks.example/T/B/x"), ""),
        ({NOTIFY_WEBHOOK_ANNOTATION: "http://h/x", NOTIFY_FORMAT_ANNOTATION: "Slack"},
         Webhook("http://h/x", NotifyFormat.SLACK), ""),
        ({NOTIFY_WEBHOOK_ANNOTATION: "http://h/x", NOTIFY_FORMAT_ANNOTATION: "xml"},
         None, "is not one of json, slack"),
        ({NOTIFY_WEBHOOK_ANNOTATION: "file:///etc/passwd"}, None, "not an http or https URL"),
        ({NOTIFY_WEBHOOK_ANNOTATION: "http://u:p@h/x"}, None, "credentials"),
        ({NOTIFY_WEBHOOK_ANNOTATION: "http://h:port/x"}, None, "not a URL"),
        ({NOTIFY_WEBHOOK_ANNOTATION: "http:///x"}, None, "no host"),
        ({NOTIFY_WEBHOOK_ANNOTATION: "http://h/" + "x" * 3000}, None, "longer than"),
    ],
)  # fmt: skip
def test_release_webhook(
    annotations: dict[str, str], expected: Webhook | None, problem: str
) -> None:
    webhook, why = release_webhook(annotations)
    assert webhook == expected
    assert problem in why
    assert bool(why) == bool(problem)


def test_webhook_problem_accepts_plain_urls() -> None:
    assert webhook_problem("http://127.0.0.1:8080/hook") is None
