"""What an unset spec field means: the one place both the CRD and the parser read.

The API server fills these in from the CRD's ``default``s; ``core.spec.parse_spec``
applies the same ones to a spec stored before a default existed, so a field
means the same whether the server or the operator filled it in.
"""

from __future__ import annotations

from typing import Final

from bluegreen.api.enums import DeletionPolicy, InconclusivePolicy, ServiceType

REPLICAS: Final = 1
SERVICE_TYPE: Final = ServiceType.CLUSTER_IP
SERVICE_PORT: Final = 80
SERVICE_TARGET_PORT: Final = 5000
PREVIEW_SERVICE_SUFFIX: Final = "-preview"
"""The preview Service is ``<service.name>-preview`` unless named."""
DELETION_POLICY: Final = DeletionPolicy.DELETE
READINESS_TIMEOUT_SECONDS: Final = 600
PROMOTION_AUTO: Final = True
HOLD_SECONDS: Final = 600
HOLD_CHECK_INTERVAL_SECONDS: Final = 30

HTTP_PATH: Final = "/"
HTTP_EXPECT_STATUS: Final = 200
HTTP_TIMEOUT_SECONDS: Final = 5
HTTP_ATTEMPTS: Final = 3
JOB_TIMEOUT_SECONDS: Final = 300
HOOK_TIMEOUT_SECONDS: Final = 600
HOOK_RETRIES: Final = 2
METRIC_WINDOW_SECONDS: Final = 60
METRIC_CONSECUTIVE_FAILURES: Final = 1
METRIC_ON_INCONCLUSIVE: Final = InconclusivePolicy.WAIT
METRIC_INCONCLUSIVE_TIMEOUT_SECONDS: Final = 300
METRIC_TIMEOUT_SECONDS: Final = 10
