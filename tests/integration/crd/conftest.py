"""Installs the BlueGreenRelease CRD on the test cluster, once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

CRD_PATH = Path(__file__).resolve().parents[3] / "crds" / "bluegreenreleases.bluegreen.dev.yaml"
FIELD_MANAGER = "bluegreen-crd-tests"


def load_crd() -> dict[str, Any]:
    with CRD_PATH.open() as f:
        crd = yaml.safe_load(f)
    assert isinstance(crd, dict)
    return crd


@pytest.fixture(scope="session")
def crd(api_client: Any, wait_until: Callable[..., Any]) -> dict[str, Any]:
    """The CRD, server-side applied and Established; returns the stored object.

    It stays installed afterwards: other suites on the same cluster need it too.
    """
    from kubernetes import client

    api = client.ApiextensionsV1Api(api_client)
    body = load_crd()
    name = body["metadata"]["name"]
    api.patch_custom_resource_definition(
        name,
        body,
        field_manager=FIELD_MANAGER,
        force=True,
        _content_type="application/apply-patch+yaml",
    )

    def established() -> dict[str, Any] | None:
        stored = api_client.sanitize_for_serialization(api.read_custom_resource_definition(name))
        conditions = {c["type"]: c["status"] for c in stored["status"].get("conditions") or []}
        ready = (
            conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"
        )
        return stored if ready else None

    stored: dict[str, Any] = wait_until(f"CRD {name} Established", established, timeout=60)
    return stored
