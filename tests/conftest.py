"""Session fixtures for tests that need the real local control plane.

``cluster`` starts the cluster with ``hack/cluster-up.sh`` when none is
running, or uses ``$KUBECONFIG`` when ``BLUEGREEN_USE_EXISTING_CLUSTER=1``. It
only stops a cluster it started itself, and keeps even that one when
``BLUEGREEN_KEEP_CLUSTER=1`` (handy to look around after a failure).

Every test that uses ``cluster`` gets the ``cluster`` marker, so
``pytest -m 'not cluster'`` runs everything that needs no cluster.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.harness import App

REPO = pathlib.Path(__file__).resolve().parent.parent
HACK = REPO / "hack"

# Variables hack/toolchain-env.sh exports; everything else in its output is ignored.
TOOLCHAIN_VARS = (
    "PATH",
    "BLUEGREEN_TOOLCHAIN_DIR",
    "TF_CLI_CONFIG_FILE",
    "TF_IN_AUTOMATION",
    "TF_INPUT",
    "CHECKPOINT_DISABLE",
)
CLUSTER_START_TIMEOUT_S = 240


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A running cluster: its admin kubeconfig and the environment to reach it.

    ``env`` is ``os.environ`` plus the toolchain variables plus ``KUBECONFIG``:
    pass it to subprocesses (kubectl, terraform, the operator).
    """

    kubeconfig: pathlib.Path
    env: dict[str, str]
    started_here: bool = False


def toolchain_env() -> dict[str, str]:
    """The variables of ``eval "$(hack/toolchain-env.sh)"``, evaluated by bash itself."""
    out = subprocess.run(
        ["bash", "-c", f'eval "$({HACK / "toolchain-env.sh"})" && env -0'],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pairs = (item.partition("=") for item in out.split("\0") if item)
    env = {k: v for k, _, v in pairs}
    return {k: env[k] for k in TOOLCHAIN_VARS if k in env}


def _cluster_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("BLUEGREEN_CLUSTER_DIR", REPO / ".cluster"))


def _healthy(kubeconfig: pathlib.Path, env: dict[str, str]) -> bool:
    if not kubeconfig.is_file():
        return False
    probe = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "get", "--raw=/readyz", "--request-timeout=5s"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def toolchain() -> Iterator[dict[str, str]]:
    """Puts the toolchain (PATH, Terraform CLI config...) into os.environ for the session."""
    tc_env = toolchain_env()
    saved = {k: os.environ.get(k) for k in tc_env}
    os.environ.update(tc_env)
    yield tc_env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def cluster(toolchain: dict[str, str]) -> Iterator[Cluster]:
    env = dict(os.environ)
    if os.environ.get("BLUEGREEN_USE_EXISTING_CLUSTER") == "1":
        kubeconfig = pathlib.Path(
            os.environ.get("KUBECONFIG", pathlib.Path.home() / ".kube" / "config")
        )
        if not _healthy(kubeconfig, env):
            pytest.fail(f"BLUEGREEN_USE_EXISTING_CLUSTER=1 but {kubeconfig} reaches no cluster")
        env["KUBECONFIG"] = str(kubeconfig)
        yield Cluster(kubeconfig=kubeconfig, env=env)
        return

    state = _cluster_dir()
    kubeconfig = state / "kubeconfig"
    env["BLUEGREEN_CLUSTER_DIR"] = str(state)
    started_here = not _healthy(kubeconfig, env)
    if started_here:
        up = subprocess.run(
            [str(HACK / "cluster-up.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=CLUSTER_START_TIMEOUT_S,
            check=False,
        )
        if up.returncode != 0:
            pytest.fail(
                f"hack/cluster-up.sh failed ({up.returncode}); logs in {state}/logs\n"
                f"{up.stderr[-4000:]}"
            )
        # Another session may have started it while we waited for its lock:
        # then it is theirs to stop, not ours.
        started_here = "already running" not in up.stderr
    env["KUBECONFIG"] = str(kubeconfig)
    try:
        yield Cluster(kubeconfig=kubeconfig, env=env, started_here=started_here)
    finally:
        if started_here and os.environ.get("BLUEGREEN_KEEP_CLUSTER") != "1":
            subprocess.run([str(HACK / "cluster-down.sh")], env=env, check=False)


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``kubectl(*args, check=True, input=None)`` against the test cluster.

    Returns the CompletedProcess; raises with kubectl's stderr when ``check``
    and kubectl fails.
    """

    def run(
        *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["kubectl", f"--kubeconfig={cluster.kubeconfig}", *args],
            env=cluster.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def api_client(cluster: Cluster) -> Iterator[Any]:
    """A synchronous ``kubernetes.client.ApiClient`` for the admin user."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()


@pytest.fixture
def namespace(api_client: Any) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def poll_until(
    what: str, predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.25
) -> Any:
    """Polls ``predicate`` until it returns something truthy, which is returned.

    Fails the test with ``what`` and the last value seen once ``timeout``
    seconds have passed: a deadline, never a bare sleep.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., Any]:
    """The ``poll_until`` helper, as a fixture: ``wait_until(what, predicate, timeout=60)``."""
    return poll_until


@pytest.fixture(scope="session")
def apps() -> Iterator[dict[str, App]]:
    """The real Flask demo app, v1 and v2, as local processes (KWOK pods have no network)."""
    running = {v: App(v) for v in ("v1", "v2")}
    yield running
    for app in running.values():
        app.stop()
