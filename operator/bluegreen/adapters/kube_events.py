"""Kubernetes Events on a BlueGreenRelease: what ``kubectl describe`` shows humans."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bluegreen.adapters.kube_rest import KubeError, KubeRest
from bluegreen.api.timefmt import format_time
from bluegreen.api.v1alpha1 import API_VERSION, FIELD_MANAGER, KIND

log = logging.getLogger(__name__)


class Events:
    """Kubernetes Events on the BlueGreenRelease, as ``kubectl describe`` shows them."""

    def __init__(self, rest: KubeRest, component: str = FIELD_MANAGER) -> None:
        self.rest = rest
        self.component = component

    async def post(
        self, release: Mapping[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        meta = release["metadata"]
        now = format_time(datetime.now(UTC))
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:12]}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid", ""),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.rest.create(f"/api/v1/namespaces/{meta['namespace']}/events", body)
        except KubeError as err:
            # Events inform humans; a release must never stall because one was refused.
            if err.namespace_terminating:
                return  # the release is going away with its namespace
            log.warning(
                "event %s on %s/%s not posted: %s", reason, meta["namespace"], meta["name"], err
            )
