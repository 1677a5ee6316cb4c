"""The checks of a release's spec (smoke and hold), and each field's CRD schema.

Both lists share one item schema (``CHECK_ITEM`` and ``Check``), so a check
means the same before the switch and during the hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bluegreen.api import defaults
from bluegreen.api.enums import CheckKind, InconclusivePolicy
from bluegreen.api.limits import (
    DNS_LABEL_MAX_CHARS,
    DNS_LABEL_PATTERN,
    HTTP_ATTEMPTS_MAX,
    HTTP_EXPECT_BODY_MAX_CHARS,
    HTTP_EXPECT_BODY_REGEX_MAX_CHARS,
    HTTP_PATH_MAX_CHARS,
    HTTP_STATUS_MAX,
    HTTP_STATUS_MIN,
    HTTP_TIMEOUT_MAX,
    HTTP_TIMEOUT_MIN,
    HTTP_URL_MAX_CHARS,
    JOB_TIMEOUT_MAX,
    JOB_TIMEOUT_MIN,
    MAX_DAY_SECONDS,
    METRIC_FAILURES_MAX,
    METRIC_INCONCLUSIVE_TIMEOUT_MAX,
    METRIC_QUERY_MAX_CHARS,
    METRIC_TIMEOUT_MAX,
    METRIC_TIMEOUT_MIN,
    METRIC_WINDOW_MAX,
    METRIC_WINDOW_MIN,
    PORT_MAX,
    PORT_MIN,
)
from bluegreen.api.schema import Rule, doc, item_doc
from bluegreen.api.v1alpha1 import TARGET_URL_ENV

_NO_SPACE_NOR_CONTROL = "[^[:space:][:cntrl:]]"


def unique_check_names(where: str) -> Rule:
    return Rule(
        "self.all(c, self.exists_one(d, d.name == c.name))",
        f"check names must be unique within {where}",
    )


CHECK_ITEM: Final = item_doc(
    "One check; set exactly one of http, job or metric.",
    rules=(
        Rule(
            "(has(self.http) ? 1 : 0) + (has(self.job) ? 1 : 0) + (has(self.metric) ? 1 : 0) == 1",
            "set exactly one of http, job or metric",
        ),
    ),
)

METRIC_VARIABLES: Final = ("namespace", "release", "revision", "previousRevision", "window")
"""What ``{{name}}`` in a metric query may name: the release's namespace and name, the
revision checked, the revision before it ("" on a first release) and the window as a
PromQL duration (``60s``)."""


@dataclass(frozen=True)
class HttpCheck:
    """An HTTP GET that must answer with the expected status and body."""

    path: str = field(
        default=defaults.HTTP_PATH,
        metadata=doc(
            "Path to request; must start with '/'.",
            max_length=HTTP_PATH_MAX_CHARS,
            rules=(
                Rule(
                    f"self.matches('^/{_NO_SPACE_NOR_CONTROL}*$')",
                    "http.path must start with '/' and hold no spaces nor control characters",
                ),
            ),
        ),
    )
    port: int | None = field(
        default=None,
        metadata=doc(
            "Service port to call; default the stable Service's port.",
            minimum=PORT_MIN,
            maximum=PORT_MAX,
        ),
    )
    url: str | None = field(
        default=None,
        metadata=doc(
            "Base URL (scheme://host:port) to call instead of the Service.",
            max_length=HTTP_URL_MAX_CHARS,
            rules=(
                Rule(
                    f"self.matches('^https?://{_NO_SPACE_NOR_CONTROL}+$')",
                    "http.url must start with http:// or https:// and hold no spaces nor "
                    "control characters",
                ),
            ),
        ),
    )
    expect_status: int = field(
        default=defaults.HTTP_EXPECT_STATUS,
        metadata=doc(
            "The HTTP status the answer must have.",
            minimum=HTTP_STATUS_MIN,
            maximum=HTTP_STATUS_MAX,
        ),
    )
    expect_body: str | None = field(
        default=None,
        metadata=doc("A substring the body must contain.", max_length=HTTP_EXPECT_BODY_MAX_CHARS),
    )
    expect_body_regex: str | None = field(
        default=None,
        metadata=doc(
            "A regular expression the body must match (RE2 syntax: no backreferences nor "
            "lookaround).",
            max_length=HTTP_EXPECT_BODY_REGEX_MAX_CHARS,
        ),
    )
    timeout_seconds: float = field(
        default=defaults.HTTP_TIMEOUT_SECONDS,
        metadata=doc(
            f"Timeout of one attempt, in seconds ({HTTP_TIMEOUT_MIN} to {HTTP_TIMEOUT_MAX}).",
            minimum=HTTP_TIMEOUT_MIN,
            maximum=HTTP_TIMEOUT_MAX,
        ),
    )
    attempts: int = field(
        default=defaults.HTTP_ATTEMPTS,
        metadata=doc(
            "The check passes on its first successful attempt and fails after this many "
            f"(at most {HTTP_ATTEMPTS_MAX}).",
            minimum=1,
            maximum=HTTP_ATTEMPTS_MAX,
        ),
    )


@dataclass(frozen=True)
class JobCheck:
    """A Job that must succeed; its pod template comes from the spec."""

    template: Mapping[str, Any] = field(
        metadata=doc("The Job's spec (a JobSpec, with its pod template under template).")
    )
    timeout_seconds: int = field(
        default=defaults.JOB_TIMEOUT_SECONDS,
        metadata=doc(
            "Seconds the Job may run (its activeDeadlineSeconds; at most an hour).",
            minimum=JOB_TIMEOUT_MIN,
            maximum=JOB_TIMEOUT_MAX,
        ),
    )


@dataclass(frozen=True)
class MetricCheck:
    """A PromQL query whose one value must meet a condition, evaluated again and again."""

    query: str = field(
        metadata=doc(
            "A PromQL instant query giving one number (a scalar, or a vector of one "
            "series); {{namespace}}, {{release}}, {{revision}}, {{previousRevision}} and "
            "{{window}} are replaced before it is sent.",
            max_length=METRIC_QUERY_MAX_CHARS,
            rules=(Rule("size(self) > 0", "metric.query must not be empty"),),
        )
    )
    window_seconds: int = field(
        default=defaults.METRIC_WINDOW_SECONDS,
        metadata=doc(
            "The window the query looks at, as {{window}}; a comparison takes the previous "
            "revision's value over the window before the switch.",
            minimum=METRIC_WINDOW_MIN,
            maximum=METRIC_WINDOW_MAX,
        ),
    )
    max: float | None = field(
        default=None, metadata=doc("The value must be at most this (a threshold).")
    )
    min: float | None = field(
        default=None, metadata=doc("The value must be at least this (a threshold).")
    )
    max_increase: float | None = field(
        default=None,
        metadata=doc(
            "The value may rise by at most this much over the previous revision's value "
            "(absolute). On a first release there is nothing to compare with and it holds.",
            minimum=0,
        ),
    )
    max_increase_percent: float | None = field(
        default=None,
        metadata=doc(
            "The value may rise by at most this share (in percent) of the previous "
            "revision's value.",
            minimum=0,
        ),
    )
    consecutive_failures: int = field(
        default=defaults.METRIC_CONSECUTIVE_FAILURES,
        metadata=doc(
            "Failed evaluations in a row that fail the check; a passed one resets the count.",
            minimum=1,
            maximum=METRIC_FAILURES_MAX,
        ),
    )
    interval_seconds: int | None = field(
        default=None,
        metadata=doc(
            "Seconds between two evaluations; default hold.checkIntervalSeconds.",
            minimum=1,
            maximum=MAX_DAY_SECONDS,
        ),
    )
    on_inconclusive: str = field(
        default=defaults.METRIC_ON_INCONCLUSIVE,
        metadata=doc(
            "What an evaluation without an answer (no data, Prometheus unreachable) counts "
            "as: Wait evaluates again until inconclusiveTimeoutSeconds, then fails; Fail and "
            "Pass count it as a failed or passed evaluation.",
            enum=InconclusivePolicy,
        ),
    )
    inconclusive_timeout_seconds: int = field(
        default=defaults.METRIC_INCONCLUSIVE_TIMEOUT_SECONDS,
        metadata=doc(
            "Under Wait: seconds of inconclusive evaluations in a row after which the check fails.",
            minimum=1,
            maximum=METRIC_INCONCLUSIVE_TIMEOUT_MAX,
        ),
    )
    timeout_seconds: int = field(
        default=defaults.METRIC_TIMEOUT_SECONDS,
        metadata=doc(
            f"Timeout of one query, in seconds ({METRIC_TIMEOUT_MIN} to {METRIC_TIMEOUT_MAX}).",
            minimum=METRIC_TIMEOUT_MIN,
            maximum=METRIC_TIMEOUT_MAX,
        ),
    )

    @property
    def compares(self) -> bool:
        """True when the condition compares with the previous revision's value."""
        return self.max_increase is not None or self.max_increase_percent is not None


@dataclass(frozen=True)
class Check:
    name: str = field(
        metadata=doc(
            "Name of the check (a DNS label), unique within its list.",
            max_length=DNS_LABEL_MAX_CHARS,
            pattern=DNS_LABEL_PATTERN,
        )
    )
    http: HttpCheck | None = field(
        default=None,
        metadata=doc("An HTTP GET that must answer with the expected status and body."),
    )
    job: JobCheck | None = field(
        default=None,
        metadata=doc(f"A Job that must succeed; {TARGET_URL_ENV} tells it what to test."),
    )
    metric: MetricCheck | None = field(
        default=None,
        metadata=doc(
            "A Prometheus query whose value must meet a condition (a threshold, or a bound "
            "on its rise over the previous revision's value).",
            rules=(
                Rule(
                    "has(self.max) || has(self.min) || has(self.maxIncrease)"
                    " || has(self.maxIncreasePercent)",
                    "metric needs a condition: max, min, maxIncrease or maxIncreasePercent",
                ),
            ),
        ),
    )

    @property
    def kind(self) -> str:
        if self.http is not None:
            return CheckKind.HTTP
        return CheckKind.METRIC if self.metric is not None else CheckKind.JOB
