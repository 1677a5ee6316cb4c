"""The invariant watcher itself must catch a breach: a check that can't fail proves nothing."""

from __future__ import annotations

from kubernetes import client, config

from tests.chaos.watcher import InvariantWatcher, wait_until
from tests.conftest import Cluster
from tests.integration.harness import Kubectl


def _service(k: Kubectl, namespace: str, selector: dict[str, str]) -> None:
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "chaos", "namespace": namespace},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 5000}]},
        }
    )


def test_a_switch_to_nothing_ready_and_an_emptied_selector_are_caught(
    cluster: Cluster, k: Kubectl, namespace: str
) -> None:
    api: client.ApiClient = config.new_client_from_config(config_file=str(cluster.kubeconfig))  # type: ignore[no-untyped-call]
    watcher = InvariantWatcher(api, namespace, "chaos").start()
    try:
        _service(k, namespace, {"bluegreen.dev/revision": "ghost"})
        wait_until("the switch to be seen", lambda: watcher.selected == ["ghost"], 30)
        k.run(
            "patch",
            "svc",
            "chaos",
            "-n",
            namespace,
            "--type=json",
            "-p",
            '[{"op": "replace", "path": "/spec/selector", "value": {"app": "x"}}]',
        )
        wait_until("two violations", lambda: len(watcher.violations) >= 2, 30)
    finally:
        violations = watcher.close()
        api.close()
    assert "switched to ghost, which was not fully ready" in violations
    assert "stable Service selects no revision after serving" in violations
