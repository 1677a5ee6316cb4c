"""Job checks for releases on the local cluster."""

from __future__ import annotations

from typing import Any


def job_check(name: str) -> dict[str, Any]:
    """A Job smoke check that passes: its pod exits 0."""
    return {
        "name": name,
        "job": {
            "template": {
                "template": {
                    "spec": {
                        "containers": [{"name": name, "image": "checker:1", "command": ["true"]}]
                    }
                }
            },
            "timeoutSeconds": 60,
        },
    }
