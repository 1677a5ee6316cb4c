"""Bounds and formats of what a release author writes: the CRD declares them and
``core.spec.parse_spec`` re-checks them for specs stored under an older CRD.

The caps keep one release's cost (time, bytes, regex work, status size) small
and known in advance: checks run on the operator's event loop beside every
other release.
"""

from __future__ import annotations

from typing import Final

MAX_REPLICAS: Final = 1000
MAX_HOLD_SECONDS: Final = 7 * 24 * 3600
MAX_DAY_SECONDS: Final = 24 * 3600
"""Bound of readiness timeouts and hold check intervals."""
PORT_MIN, PORT_MAX = 1, 65535
PORT_NAME_MAX_CHARS: Final = 15
"""IANA service names, as Kubernetes accepts for a named container port."""

DNS_LABEL_MAX_CHARS: Final = 63
DNS_LABEL_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
"""RFC 1035 labels: what Services and check names must be."""
RELEASE_NAME_MAX_CHARS: Final = 63
"""A release's name becomes a label value, and label values stop at 63 characters."""
REVISION_LENGTH: Final = 10
"""Hex digits of a revision (a hash of the pod template)."""

LABEL_KEY_MAX_CHARS: Final = 317
"""A DNS subdomain prefix (253), '/', and a name (63)."""
LABEL_VALUE_MAX_CHARS: Final = 63
LABEL_VALUE_PATTERN: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
MAX_POD_LABELS: Final = 64
MAX_POD_ANNOTATIONS: Final = 64
ANNOTATION_VALUE_MAX_CHARS: Final = 4096
MAX_CONTAINERS: Final = 32
MAX_VARIABLES: Final = 32
"""Extra Terraform variables per release."""

MAX_CHECKS: Final = 16
"""Checks per list (smoke, hold)."""
HTTP_TIMEOUT_MIN, HTTP_TIMEOUT_MAX = 1, 60
"""http.timeoutSeconds bounds: one attempt, connect to last body byte."""
HTTP_ATTEMPTS_MAX: Final = 10
HTTP_STATUS_MIN, HTTP_STATUS_MAX = 100, 599
HTTP_EXPECT_BODY_MAX_CHARS: Final = 1024
HTTP_EXPECT_BODY_REGEX_MAX_CHARS: Final = 256
HTTP_PATH_MAX_CHARS: Final = 1024
HTTP_URL_MAX_CHARS: Final = 2048
JOB_TIMEOUT_MIN, JOB_TIMEOUT_MAX = 1, 3600
HOOK_TIMEOUT_MIN, HOOK_TIMEOUT_MAX = 1, 6 * 3600
"""hooks[].timeoutSeconds: a migration may take longer than a check, never unbounded."""
HOOK_RETRIES_MAX: Final = 10
MAX_HOOKS: Final = 8
"""Hooks per point (preSwitch, postSwitch, postCleanup)."""
METRIC_QUERY_MAX_CHARS: Final = 2048
"""A PromQL query template; rendered, its variables add at most a few dozen characters."""
METRIC_WINDOW_MIN, METRIC_WINDOW_MAX = 1, 24 * 3600
METRIC_TIMEOUT_MIN, METRIC_TIMEOUT_MAX = 1, 60
"""metric.timeoutSeconds bounds: one query, sent to Prometheus as its own timeout too."""
METRIC_FAILURES_MAX: Final = 100
METRIC_INCONCLUSIVE_TIMEOUT_MAX: Final = 24 * 3600

# metav1.Condition's own limits, so conditions read by generic tools stay valid.
CONDITION_TYPE_MAX_CHARS: Final = 316
CONDITION_REASON_MAX_CHARS: Final = 1024
CONDITION_MESSAGE_MAX_CHARS: Final = 32768

RESERVED_VARIABLES: Final = (
    "release_name",
    "namespace",
    "create_namespace",
    "service_name",
    "preview_service_name",
    "kubeconfig_path",
    "service_type",
    "service_port",
    "target_port",
    "labels",
)
"""Module variables the operator derives: where things live and what the Services look
like come from ``spec.service`` and the release's identity, not from free-form inputs."""
