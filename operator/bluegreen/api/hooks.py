"""Migration hooks of a release's spec, and each field's CRD schema.

A hook is a Job run at a named point of a release (``HookPoint``): before the
switch (expand: only changes the serving revision keeps working with), after
it, and after the previous revision is deleted (contract). Hooks run once per
revision, in the order listed, one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bluegreen.api import defaults
from bluegreen.api.enums import HookPoint
from bluegreen.api.limits import (
    DNS_LABEL_MAX_CHARS,
    DNS_LABEL_PATTERN,
    HOOK_RETRIES_MAX,
    HOOK_TIMEOUT_MAX,
    HOOK_TIMEOUT_MIN,
    MAX_HOOKS,
)
from bluegreen.api.schema import Rule, doc, item_doc
from bluegreen.api.v1alpha1 import (
    HOOK_ENV,
    NAMESPACE_ENV,
    PREVIOUS_REVISION_ENV,
    RELEASE_ENV,
    REVISION_ENV,
)

HOOK_ENVIRONMENT: Final = (
    RELEASE_ENV,
    NAMESPACE_ENV,
    REVISION_ENV,
    PREVIOUS_REVISION_ENV,
    HOOK_ENV,
)
"""What every container of a hook's Job is told."""


@dataclass(frozen=True)
class Hook:
    """A Job run once per revision at one point of its release."""

    name: str = field(
        metadata=doc(
            "Name of the hook (a DNS label), unique within its list.",
            max_length=DNS_LABEL_MAX_CHARS,
            pattern=DNS_LABEL_PATTERN,
        )
    )
    template: Mapping[str, Any] = field(
        metadata=doc(
            "The Job's spec (a JobSpec, with its pod template under template). Its containers "
            f"get {', '.join(HOOK_ENVIRONMENT)}."
        )
    )
    timeout_seconds: int = field(
        default=defaults.HOOK_TIMEOUT_SECONDS,
        metadata=doc(
            "Seconds the hook may take, retries included (the Job's activeDeadlineSeconds).",
            minimum=HOOK_TIMEOUT_MIN,
            maximum=HOOK_TIMEOUT_MAX,
        ),
    )
    retries: int = field(
        default=defaults.HOOK_RETRIES,
        metadata=doc(
            "Pods retried after a failed one before the hook fails (the Job's backoffLimit).",
            minimum=0,
            maximum=HOOK_RETRIES_MAX,
        ),
    )


def _hook_list(when: str, where: str) -> Mapping[str, Any]:
    return doc(
        f"Jobs run {when}, in order, one at a time.",
        max_items=MAX_HOOKS,
        rules=(
            Rule(
                "self.all(h, self.exists_one(i, i.name == h.name))",
                f"hook names must be unique within {where}",
            ),
        ),
        items=item_doc("One hook."),
    )


@dataclass(frozen=True)
class HooksSpec:
    pre_switch: tuple[Hook, ...] = field(
        default=(),
        metadata=_hook_list(
            "before the switch, once every smoke check passed (expand: make only changes "
            "the serving revision keeps working with); a failure fails the candidate and "
            "traffic stays",
            "spec.hooks.preSwitch",
        ),
    )
    post_switch: tuple[Hook, ...] = field(
        default=(),
        metadata=_hook_list(
            "once the switch is confirmed, while the previous revision is held; a failure "
            "marks the release Degraded and leaves traffic as it is",
            "spec.hooks.postSwitch",
        ),
    )
    post_cleanup: tuple[Hook, ...] = field(
        default=(),
        metadata=_hook_list(
            "after the previous revision is deleted at the end of the hold (contract: remove "
            "what only the previous revision needed); never after a rollback; a failure marks "
            "the release Degraded and leaves traffic as it is",
            "spec.hooks.postCleanup",
        ),
    )

    def at(self, point: str) -> tuple[Hook, ...]:
        """The hooks of one ``HookPoint``."""
        return {
            HookPoint.PRE_SWITCH: self.pre_switch,
            HookPoint.POST_SWITCH: self.post_switch,
            HookPoint.POST_CLEANUP: self.post_cleanup,
        }[HookPoint(point)]
