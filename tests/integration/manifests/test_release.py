"""``make release``: one install.yaml and the CRD, versioned, for ``kubectl apply -f``.

The file must be exactly what ``kubectl apply -k manifests/`` installs (with
the image the release names), and the API server must accept it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Cluster
from tests.integration.harness import REPO
from tests.integration.manifests.conftest import MANIFESTS

IMAGE = "registry.example/team/bluegreen-operator"


def _version() -> str:
    with (REPO / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


@pytest.fixture(scope="module")
def release(toolchain: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(REPO / "hack" / "release.sh")],
        env={**os.environ, **toolchain, "BLUEGREEN_DIST": str(dist), "BLUEGREEN_IMAGE": IMAGE},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dist / _version()


def _docs(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_install_yaml_is_the_kustomize_output_with_the_release_image(release: Path) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True
    ).stdout
    expected = _docs(built)
    for doc in expected:
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                container["image"] = f"{IMAGE}:{_version()}"
    assert _docs((release / "install.yaml").read_text()) == expected


def test_crd_and_checksums(release: Path) -> None:
    crd = release / "bluegreenreleases.bluegreen.dev.yaml"
    assert crd.read_bytes() == (REPO / "crds" / crd.name).read_bytes()
    sums = dict(
        reversed(line.split()) for line in (release / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) == {"install.yaml", crd.name}
    for name, digest in sums.items():
        assert hashlib.sha256((release / name).read_bytes()).hexdigest() == digest


def test_api_server_accepts_install_yaml(cluster: Cluster, release: Path) -> None:
    """``kubectl apply -f install.yaml`` as the README says, as a server dry run: every
    object validates, the CRD included, whether or not an install is already there."""
    done = subprocess.run(
        [
            "kubectl",
            "apply",
            "--dry-run=server",
            "-f",
            str(release / "install.yaml"),
        ],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("(server dry run)") == len(
        _docs((release / "install.yaml").read_text())
    )
