"""Fixtures of the chaos suite: two operator replicas behind their own proxies."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from tests.chaos.faults import ControlPlane, Proxy, Replica, Supervisor
from tests.conftest import Cluster, _cluster_dir, _healthy
from tests.e2e.conftest import real_node  # noqa: F401  # live traffic runs on the real node
from tests.integration.conftest import k, namespace  # noqa: F401  # shared fixtures
from tests.integration.harness import Kubectl

FULL = os.environ.get("BLUEGREEN_CHAOS") == "full"
"""``make chaos``: every fault in every phase. Otherwise (CI) one phase per fault."""


@dataclass
class Chaos:
    replicas: list[Replica]
    proxies: dict[int, Proxy]
    supervisor: Supervisor
    control_plane: ControlPlane
    api: client.ApiClient
    namespace: str
    workdir: Path


STATE_NAMESPACE = "bluegreen-system"


@pytest.fixture
def chaos(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    k: Kubectl,  # noqa: F811
    namespace: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Chaos]:
    """Two replicas; ``indirect`` parametrization picks the infrastructure (default: plain
    API calls, the fastest; ``terraform`` for Terraform's own faults)."""
    infrastructure = getattr(request, "param", "kubernetes")
    if infrastructure == "terraform":
        k.run("create", "namespace", STATE_NAMESPACE, check=False)
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    host, port = server.removeprefix("https://").rsplit(":", 1)
    lease = f"chaos-{uuid.uuid4().hex[:6]}"
    replicas: list[Replica] = []
    proxies: dict[int, Proxy] = {}
    for index in range(2):
        proxy = Proxy((host, int(port)))
        proxy.start()
        proxies[index] = proxy
        through = tmp_path / f"kubeconfig-{index}"
        kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        through.write_text(yaml.safe_dump(kubeconfig))
        replicas.append(
            Replica(
                {**cluster.env, "KUBECONFIG": str(through)},
                namespace,
                tmp_path / f"replica-{index}.log",
                "--kubeconfig",
                str(through),
                "--infrastructure",
                infrastructure,
                "--terraform-work-dir",
                str(tmp_path / f"tf-{index}"),
                "--terraform-timeout",
                "60",
                # Terraform's faults include a deleted state: drift checks notice it.
                "--drift-interval",
                "3" if infrastructure == "terraform" else "0",
                "--leader-elect",
                "--leader-election-namespace",
                namespace,
                "--leader-election-id",
                lease,
            )
        )
    for replica in replicas:
        replica.start()
    supervisor = Supervisor(replicas)
    supervisor.start()
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))  # type: ignore[no-untyped-call]
    plane = ControlPlane(_cluster_dir(), lambda: _healthy(cluster.kubeconfig, cluster.env))
    yield Chaos(replicas, proxies, supervisor, plane, api, namespace, tmp_path)
    supervisor.stop.set()
    supervisor.join(timeout=5)
    for index, replica in enumerate(replicas):
        replica.kill()
        proxies[index].close()
        print(f"--- {replica.log}\n{replica.log.read_text()[-2000:]}")
    api.close()
