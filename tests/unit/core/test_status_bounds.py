"""bound_status keeps every status under 64 KiB, whatever checks, humans or specs wrote."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from bluegreen.core.bounds import (
    MESSAGE_CHARS,
    STATUS_BUDGET_BYTES,
    TRUNCATED,
    bound_status,
    bound_status_dict,
    encoded_size,
    prune_checks,
    truncate,
)
from bluegreen.core.conditions import TRUE, ConditionType
from bluegreen.core.spec import MAX_CHECKS
from bluegreen.core.status import (
    ActiveRevision,
    Candidate,
    CheckStatus,
    Condition,
    HistoryEntry,
    InfrastructureStatus,
    LastAction,
    Phase,
    Previous,
    ReleaseStatus,
)
from bluegreen.core.status_rejection import REASON, is_refusal, rejection_patch, writes_refused

from .world import Release, make_spec

LIMIT = 64 * 1024
ACTIVE, PREVIOUS, CANDIDATE, STALE = "a1a1a1a1a1", "b2b2b2b2b2", "c3c3c3c3c3", "d4d4d4d4d4"
NASTY = "<&>\x00\u202e٣²ü€😀"
"""Characters that grow when encoded: escaped by Go, \\u-escaped, or 2 to 4 bytes of UTF-8."""


def stored_bytes(status: ReleaseStatus) -> int:
    """The status as the API server would get it (UTF-8 JSON), and as Go escapes it."""
    text = json.dumps(status.to_dict(), ensure_ascii=False)
    return len(text.encode()) + 5 * sum(text.count(c) for c in "<>&")


def huge(size: int) -> str:
    return (NASTY * (size // len(NASTY) + 1))[:size]


def check(name: str, stage: str, revision: str, run: int, message: str) -> CheckStatus:
    return CheckStatus(
        name=name,
        stage=stage,
        kind="http",
        revision=revision,
        phase="Failed",
        attempts=3,
        message=message,
        time="2026-01-01T12:00:00Z",
        run=run,
    )


def hostile_status(message_size: int = 100_000) -> ReleaseStatus:
    names = [f"check-{i:02d}-{'x' * 50}" for i in range(MAX_CHECKS)]
    checks = tuple(
        check(name, stage, revision, run, huge(message_size))
        for revision in (ACTIVE, PREVIOUS, CANDIDATE, STALE)
        for stage in ("smoke", "hold")
        for name in names
        for run in (1, 2, 3)
    )
    raw = "promote@" + huge(1_000_000)
    conditions = tuple(
        Condition(type=f"Junk{i}", status=TRUE, reason="Why", message=huge(message_size))
        for i in range(30)
    )
    return ReleaseStatus(
        observed_generation=3,
        phase=Phase.VERIFYING,
        revision=CANDIDATE,
        message=huge(message_size),
        active=ActiveRevision(ACTIVE, f"shop-{ACTIVE}", huge(message_size), 3, 3),
        preview=Candidate(CANDIDATE, f"shop-{CANDIDATE}", huge(message_size), 3, "t", "t"),
        previous=Previous(PREVIOUS, f"shop-{PREVIOUS}", huge(message_size), "t"),
        checks=checks,
        infrastructure=InfrastructureStatus(
            applied=True, message=huge(message_size), outputs={"stableService": "shop"}
        ),
        conditions=conditions,
        history=tuple(
            HistoryEntry(f"r{i}", huge(message_size), "t", "t", "Promoted") for i in range(50)
        ),
        last_action=LastAction(action="unknown", raw=raw, time="t", result=repr(raw)),
    )


def test_hostile_status_fits() -> None:
    status = hostile_status()
    assert stored_bytes(status) > 100 * LIMIT, "the input really is hostile"
    bounded = bound_status(status)
    assert stored_bytes(bounded) < LIMIT
    assert encoded_size(bounded) <= STATUS_BUDGET_BYTES
    # What the state machine relies on survives.
    assert bounded.active is not None and bounded.active.deployment == f"shop-{ACTIVE}"
    assert bounded.preview is not None and bounded.preview.revision == CANDIDATE
    assert bounded.previous is not None and bounded.previous.revision == PREVIOUS
    assert {c.revision for c in bounded.checks} <= {ACTIVE, PREVIOUS, CANDIDATE}
    assert CANDIDATE in {c.revision for c in bounded.checks}
    assert bounded.revision == CANDIDATE and bounded.observed_generation == 3


def test_sixteen_checks_with_megabyte_messages_keep_every_check_line() -> None:
    """The common hostile case: many checks of the live revisions, each with a huge reason."""
    status = hostile_status(message_size=0)
    status = replace(
        status,
        checks=tuple(replace(c, message="y" * 1_000_000) for c in prune_checks(status)),
        history=(),
        conditions=(),
    )
    bounded = bound_status(status)
    assert stored_bytes(bounded) < LIMIT
    assert len(bounded.checks) == 3 * 2 * MAX_CHECKS


def test_only_the_candidates_checks_survive_when_nothing_else_fits() -> None:
    """Every message a worst-case encoding: checks of settled revisions are dropped last."""
    status = hostile_status(message_size=1_000_000)
    bounded = bound_status(replace(status, checks=prune_checks(status)))
    assert stored_bytes(bounded) < LIMIT
    assert {c.revision for c in bounded.checks} == {CANDIDATE}
    assert len(bounded.checks) == 2 * MAX_CHECKS


def test_bound_is_idempotent_and_leaves_small_status_alone() -> None:
    release = Release(make_spec())
    release.run(2)
    small = release.status
    assert bound_status(small) == small
    bounded = bound_status(hostile_status())
    assert bound_status(bounded) == bounded


def test_messages_are_cut_with_a_marker() -> None:
    status = replace(ReleaseStatus(), message="m" * 5000)
    message = bound_status(status).message
    assert len(message) == MESSAGE_CHARS and message.endswith(TRUNCATED)
    assert truncate("short") == "short"


def test_checks_keep_live_revisions_and_the_latest_run() -> None:
    checks = (
        check("live", "hold", ACTIVE, 1, "first"),
        check("live", "hold", ACTIVE, 3, "third"),
        check("live", "hold", ACTIVE, 2, "second"),
        check("home", "smoke", ACTIVE, 1, "ok"),
        check("home", "smoke", STALE, 1, "gone"),
    )
    status = ReleaseStatus(
        revision=ACTIVE, active=ActiveRevision(ACTIVE, "shop-a", "img", 1), checks=checks
    )
    assert [(c.name, c.run) for c in prune_checks(status)] == [("live", 3), ("home", 1)]


def test_failed_revision_keeps_its_checks() -> None:
    status = ReleaseStatus(
        revision=STALE, failed_revision=STALE, checks=(check("home", "smoke", STALE, 4, "boom"),)
    )
    assert prune_checks(status) == status.checks


def test_history_keeps_the_last_ten() -> None:
    history = tuple(HistoryEntry(f"r{i}", "img", "t", "t", "Promoted") for i in range(25))
    bounded = bound_status(replace(ReleaseStatus(), history=history))
    assert [h.revision for h in bounded.history] == [f"r{i}" for i in range(15, 25)]


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=5000)


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(TEXT, min_size=1, max_size=8),
    repeat=st.integers(min_value=1, max_value=200),
    checks=st.integers(min_value=0, max_value=MAX_CHECKS),
)
def test_any_text_fits(messages: list[str], repeat: int, checks: int) -> None:
    text = "".join(messages) * repeat
    status = replace(
        hostile_status(message_size=0),
        message=text,
        checks=tuple(
            check(f"c{i}", stage, CANDIDATE, 1, text)
            for i in range(checks)
            for stage in ("smoke", "hold")
        ),
        last_action=LastAction("unknown", text, "t", text),
    )
    assert stored_bytes(bound_status(status)) < LIMIT
    bounded, written = bound_status_dict(status)
    assert written == bounded.to_dict(), "the status written is the bounded one, exactly"


# ------------------------------------------------------------------ refused writes


def test_refusal_codes() -> None:
    assert is_refusal(422, "denied")
    assert is_refusal(413, "")
    assert is_refusal(500, "etcdserver: request is too large")
    assert not is_refusal(409, "conflict")
    assert not is_refusal(500, "internal error")


def test_rejection_patch_stalls_this_generation_only() -> None:
    stored = Release(make_spec())
    stored.run(2)
    raw = stored.status.to_dict()
    patch = rejection_patch(raw, 4, "x" * 100_000, "2026-01-01T12:00:00Z")
    assert set(patch) == {"observedGeneration", "conditions"}
    after = {**raw, **patch}
    assert writes_refused(after, 4)
    assert not writes_refused(after, 5), "a new spec (generation) lifts the hold"
    assert not writes_refused(raw, 4)
    stalled = ReleaseStatus.from_dict(after).condition(ConditionType.STALLED)
    assert stalled is not None and stalled.reason == REASON
    assert len(stalled.message) <= MESSAGE_CHARS
    ready = ReleaseStatus.from_dict(after).condition(ConditionType.READY)
    assert ready is not None and ready.status == "False"
