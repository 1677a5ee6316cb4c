"""Fixtures for the install manifests: applied with ``kubectl apply -k manifests/``.

The operator's own permissions are exercised, not assumed: ``sa_kubeconfig``
is a kubeconfig holding a TokenRequest token of the ``bluegreen-operator``
ServiceAccount and nothing else, so every call made with it goes through RBAC
exactly as it would from the operator's pod.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import Cluster
from tests.integration.harness import REPO, Kubectl, delete_namespace, free_port, wait_for

MANIFESTS = REPO / "manifests"
SYSTEM_NAMESPACE = "bluegreen-system"
SERVICE_ACCOUNT = "bluegreen-operator"
SA_USER = f"system:serviceaccount:{SYSTEM_NAMESPACE}:{SERVICE_ACCOUNT}"

# A denied call shows up as an HTTP 403 (our KubeError, kopf's retries,
# Terraform's client-go errors) or as kopf's fallback warnings.
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+\s*")
_DENIED = re.compile(r"forbidden|\b403\b|not enough permissions|unauthorized|\b401\b", re.I)


def denied_lines(log: str) -> list[str]:
    """Lines of an operator log that report a refused API call."""
    return [line for line in log.splitlines() if _DENIED.search(_TIMESTAMP.sub("", line))]


@pytest.fixture(scope="session")
def installed(cluster: Cluster) -> Kubectl:
    """``kubectl apply -k manifests/`` on the test cluster; stays installed afterwards."""
    k = Kubectl(cluster.env)
    k.run("apply", "-k", str(MANIFESTS))
    k.run(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/bluegreenreleases.bluegreen.dev",
    )
    return k


def token_kubeconfig(cluster: Cluster, k: Kubectl, service_account: str, path: Path) -> Path:
    """A kubeconfig with a TokenRequest token of ``service_account`` and nothing else."""
    token = k.run(
        "create", "token", service_account, "-n", SYSTEM_NAMESPACE, "--duration=1h"
    ).strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context_name = admin["current-context"]
    context = next(c["context"] for c in admin["contexts"] if c["name"] == context_name)
    source = next(c["cluster"] for c in admin["clusters"] if c["name"] == context["cluster"])
    cluster_entry = {"server": source["server"]}
    if "certificate-authority-data" in source:
        cluster_entry["certificate-authority-data"] = source["certificate-authority-data"]
    else:
        ca = Path(source["certificate-authority"]).read_bytes()
        cluster_entry["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster_entry}],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [
            {"name": "operator", "context": {"cluster": "cluster", "user": service_account}}
        ],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def sa_kubeconfig(
    cluster: Cluster, installed: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount only."""
    path = tmp_path_factory.mktemp("sa") / "kubeconfig"
    return token_kubeconfig(cluster, installed, SERVICE_ACCOUNT, path)


@pytest.fixture(scope="session")
def sa_env(cluster: Cluster, sa_kubeconfig: Path) -> dict[str, str]:
    """The cluster environment with KUBECONFIG pointing at the ServiceAccount."""
    return {**cluster.env, "KUBECONFIG": str(sa_kubeconfig)}


@pytest.fixture
def namespace(installed: Kubectl) -> Iterator[str]:
    name = f"inst-{uuid.uuid4().hex[:8]}"
    installed.run("create", "namespace", name)
    yield name
    delete_namespace(installed, name)


def terraform_ready() -> bool:
    toolchain = Path(
        os.environ.get("BLUEGREEN_CACHE", Path.home() / ".cache" / "bluegreen-operator")
    )
    return any((toolchain / "toolchain").glob("*/.ready"))


SA_MOUNT = "/run/secrets/kubernetes.io/serviceaccount"


def can_fake_a_pod() -> bool:
    """Whether a private mount namespace is available (root with unshare)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "none", "/run"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


class OperatorProcess:
    """The operator as a real local process with the ServiceAccount's credentials.

    ``namespaces`` empty: cluster-wide, as the Deployment in manifests/ runs it.
    With ``in_cluster`` the credentials are not a kubeconfig but what a pod
    gets: the token, CA and namespace files under
    /var/run/secrets/kubernetes.io/serviceaccount (in a private mount
    namespace, on a tmpfs over /run, so nothing on the host changes) and
    KUBERNETES_SERVICE_HOST/PORT. Then every client takes its in-cluster path:
    the operator's, kopf's, and Terraform's backend (``in_cluster_config``)
    and provider.
    """

    def __init__(
        self,
        env: dict[str, str],
        kubeconfig: Path,
        namespaces: list[str],
        infrastructure: str,
        workdir: Path,
        *,
        in_cluster: bool = False,
    ) -> None:
        self.log = workdir / "operator.log"
        self.metrics_port = free_port()
        scope = [arg for ns in namespaces for arg in ("--namespace", ns)]
        credentials = ["--kubeconfig", str(kubeconfig)]
        prefix: list[str] = []
        if in_cluster:
            env, prefix = self._pod_credentials(env, kubeconfig, workdir / "sa")
            credentials = []
        args = [
            *prefix,
            sys.executable,
            "-m",
            "bluegreen",
            *scope,
            *credentials,
            "--infrastructure",
            infrastructure,
            "--state-namespace",
            SYSTEM_NAMESPACE,
            "--metrics-port",
            str(self.metrics_port),
            "--liveness-port",
            str(free_port()),
            "--terraform-work-dir",
            str(workdir / "tf-work"),
            "--drift-interval",
            "0",
            "--check-allowed-hosts",
            "127.0.0.1",
            # As the Deployment runs it: acting only while holding the Lease, which
            # the ServiceAccount may take only under its one name.
            "--leader-elect",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, env=env, stdout=out, stderr=out)
        wait_for("operator metrics endpoint", self._up, timeout=30)

    @staticmethod
    def _pod_credentials(
        env: dict[str, str], kubeconfig: Path, staging: Path
    ) -> tuple[dict[str, str], list[str]]:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        staging.mkdir(mode=0o700)
        (staging / "token").write_text(config["users"][0]["user"]["token"])
        (staging / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        (staging / "namespace").write_text(SYSTEM_NAMESPACE)
        server = urllib.parse.urlsplit(cluster["server"])
        pod_env = {k: v for k, v in env.items() if k not in ("KUBECONFIG", "KUBE_CONFIG_PATH")}
        pod_env["KUBERNETES_SERVICE_HOST"] = str(server.hostname)
        pod_env["KUBERNETES_SERVICE_PORT"] = str(server.port or 443)
        # An empty HOME, as in the image: no ~/.kube/config to fall back on.
        home = staging.parent / "home"
        home.mkdir()
        pod_env["HOME"] = str(home)
        script = (
            f"mount -t tmpfs none /run && mkdir -p {SA_MOUNT} "
            f'&& cp {staging}/token {staging}/ca.crt {staging}/namespace {SA_MOUNT}/ && exec "$@"'
        )
        return pod_env, ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"operator exited early:\n{self.text()[-3000:]}")
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                return "bluegreen_" in response.read().decode()
        except OSError:
            return False

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, as the kubelet stops the pod; SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
