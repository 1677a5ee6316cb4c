"""kubectl-bluegreen against a real API server: CRD schema, status subresource,
merge patches and watches as the plugin will meet them.

The operator is not running here: the tests write status themselves, through
the status subresource, exactly where the operator writes it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from bluegreen.plugin import cli
from bluegreen.plugin.client import RECONNECT_ATTEMPTS
from bluegreen.plugin.resource import ACTION_ANNOTATION, GROUP, PLURAL, VERSION
from bluegreen.plugin.verdict import ExitCode
from tests.integration.harness import kubeconfig_with_token, wait_for

pytestmark = pytest.mark.cluster

CRD = Path(__file__).resolve().parents[3] / "crds" / "bluegreenreleases.bluegreen.dev.yaml"


@pytest.fixture(scope="module")
def crd(kubectl: Callable[..., Any]) -> None:
    kubectl("apply", "--server-side", "--field-manager=plugin-tests", "-f", str(CRD))
    kubectl(
        "wait",
        "--for=condition=Established",
        "crd/bluegreenreleases.bluegreen.dev",
        "--timeout=60s",
    )


@pytest.fixture
def objects(api_client: Any, crd: None) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def release(objects: client.CustomObjectsApi, namespace: str) -> Iterator[str]:
    name = f"shop-{uuid.uuid4().hex[:6]}"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "BlueGreenRelease",
        "metadata": {"name": name, "annotations": {"team": "payments"}},
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "app", "image": "shop:v2"}]}},
            "service": {"name": name},
        },
    }
    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    yield name


def read(objects: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    # The client types custom objects as plain `object`; they are JSON dicts.
    found: Any = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return dict(found)


def write_status(
    objects: client.CustomObjectsApi, namespace: str, name: str, **status: Any
) -> dict[str, Any]:
    current = read(objects, namespace, name)
    status.setdefault("observedGeneration", current["metadata"]["generation"])
    result: Any = objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, {"status": status}
    )
    return dict(result)


def condition(type_: str, status: str, message: str = "") -> dict[str, str]:
    return {
        "type": type_,
        "status": status,
        "reason": "Test",
        "message": message,
        "lastTransitionTime": "2026-11-26T12:00:00Z",
    }


def plugin(kubeconfig: Path, namespace: str, *argv: str) -> int:
    return cli.main([*argv, "--kubeconfig", str(kubeconfig), "-n", namespace])


def test_status_and_history_render_a_real_release(
    cluster: Any,
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_status(
        objects,
        namespace,
        release,
        phase="Holding",
        revision="5d8f9c2a1b",
        active={
            "revision": "5d8f9c2a1b",
            "deployment": f"{release}-5d8f9c2a1b",
            "replicas": 2,
            "readyReplicas": 2,
        },
        previous={"revision": "91ab23cd45", "deleteAfter": "2999-01-01T00:00:00Z"},
        conditions=[condition("Ready", "False", "holding"), condition("Reconciling", "True")],
        history=[
            {"revision": "5d8f9c2a1b", "image": "shop:v2", "startedAt": "2026-11-26T11:00:00Z"}
        ],
    )
    assert plugin(cluster.kubeconfig, namespace, "status", release) == ExitCode.OK
    page = capsys.readouterr().out
    assert page.startswith(f"BlueGreenRelease  {namespace}/{release}  Holding  revision 5d8f9c2a1b")
    assert "├── active  5d8f9c2a1b  2/2 ready" in page
    assert "left (deleteAfter 2999-01-01T00:00:00Z)" in page

    assert plugin(cluster.kubeconfig, namespace, "history", release) == ExitCode.OK
    history = capsys.readouterr().out.splitlines()
    assert history[1].split()[:2] == ["5d8f9c2a1b", "shop:v2"]


def test_actions_touch_only_the_annotation(
    cluster: Any, objects: client.CustomObjectsApi, namespace: str, release: str
) -> None:
    before = read(objects, namespace, release)
    assert plugin(cluster.kubeconfig, namespace, "extend-hold", release, "10m") == ExitCode.OK
    after = read(objects, namespace, release)
    annotations = after["metadata"]["annotations"]
    assert annotations["team"] == "payments"
    assert annotations[ACTION_ANNOTATION].startswith("extend-hold:600@")
    # An action is not a spec change: GitOps tools see no drift and the operator
    # sees no new generation.
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]

    # Repeating the same action must reach the operator as a new value.
    first = annotations[ACTION_ANNOTATION]
    assert plugin(cluster.kubeconfig, namespace, "extend-hold", release, "10m") == ExitCode.OK
    again = read(objects, namespace, release)
    assert again["metadata"]["annotations"][ACTION_ANNOTATION] != first


def test_promote_approves_the_revision_in_status(
    cluster: Any, objects: client.CustomObjectsApi, namespace: str, release: str
) -> None:
    # No status yet: nothing to approve, nothing written.
    assert plugin(cluster.kubeconfig, namespace, "promote", release) == ExitCode.ERROR
    obj = read(objects, namespace, release)
    assert ACTION_ANNOTATION not in obj["metadata"]["annotations"]

    write_status(objects, namespace, release, phase="AwaitingPromotion", revision="77aa")
    assert plugin(cluster.kubeconfig, namespace, "promote", release) == ExitCode.OK
    obj = read(objects, namespace, release)
    assert obj["metadata"]["annotations"][ACTION_ANNOTATION].startswith("promote:77aa@")


def _wait_in_thread(
    kubeconfig: Path, namespace: str, *argv: str
) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(plugin(kubeconfig, namespace, *argv)), daemon=True
    )
    thread.start()
    return thread, result


def _until_rendered(capsys: pytest.CaptureFixture[str], text: str, timeout: float = 30) -> str:
    """Wait until the waiting plugin has drawn ``text``: it has seen that watch event."""
    drawn = ""

    def seen() -> bool:
        nonlocal drawn
        drawn += capsys.readouterr().out
        return text in drawn

    wait_for(f"the plugin to draw {text!r}", seen, timeout=timeout, interval=0.05)
    return drawn


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        ({"phase": "Complete", "conditions": [condition("Ready", "True", "done")]}, ExitCode.OK),
        ({"phase": "RolledBack", "conditions": [condition("Stalled", "True")]}, ExitCode.FAILED),
    ],
    ids=["ready", "rolled-back"],
)
def test_wait_follows_the_watch_to_a_verdict(
    cluster: Any,
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    final: dict[str, Any],
    expected: ExitCode,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_status(objects, namespace, release, phase="Deploying", conditions=[])
    thread, result = _wait_in_thread(
        cluster.kubeconfig, namespace, "status", release, "--wait", "--timeout", "60"
    )
    # Intermediate states must not end the wait.
    write_status(objects, namespace, release, phase="Verifying")
    _until_rendered(capsys, "Verifying")
    assert thread.is_alive()
    write_status(objects, namespace, release, **final)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert result == [expected]


def test_wait_ignores_status_of_an_older_generation(
    cluster: Any,
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_status(
        objects, namespace, release, phase="Failed", conditions=[condition("Stalled", "True")]
    )
    # A new spec (as a GitOps sync would apply) makes that failure stale.
    objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, release, {"spec": {"replicas": 3}}
    )
    thread, result = _wait_in_thread(
        cluster.kubeconfig, namespace, "status", release, "--wait", "--timeout", "60"
    )
    _until_rendered(capsys, "Failed")  # drawn, and still waiting: it is stale
    assert thread.is_alive()
    write_status(
        objects, namespace, release, phase="Complete", conditions=[condition("Ready", "True")]
    )
    thread.join(timeout=30)
    assert result == [ExitCode.OK]


def test_wait_times_out_with_2(
    cluster: Any, objects: client.CustomObjectsApi, namespace: str, release: str
) -> None:
    write_status(objects, namespace, release, phase="Holding")
    started = time.monotonic()
    code = plugin(cluster.kubeconfig, namespace, "status", release, "--wait", "--timeout", "2")
    assert code == ExitCode.TIMEOUT
    assert time.monotonic() - started < 15


def test_missing_release_is_an_error(
    cluster: Any, namespace: str, crd: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plugin(cluster.kubeconfig, namespace, "status", "nope") == ExitCode.ERROR
    assert 'bluegreenrelease "nope" not found' in capsys.readouterr().err


def test_namespace_defaults_to_the_context_namespace(
    cluster: Any, objects: client.CustomObjectsApi, namespace: str, release: str, tmp_path: Path
) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["contexts"]:
        entry["context"]["namespace"] = namespace
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    write_status(objects, namespace, release, phase="Pending")
    assert cli.main(["status", release, "--kubeconfig", str(kubeconfig)]) == ExitCode.OK


def test_wait_stops_when_the_release_is_deleted(
    cluster: Any,
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_status(objects, namespace, release, phase="Deploying")
    thread, result = _wait_in_thread(
        cluster.kubeconfig, namespace, "status", release, "--wait", "--timeout", "60"
    )
    _until_rendered(capsys, "Deploying")
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, release)
    thread.join(timeout=30)
    assert result == [ExitCode.ERROR]
    assert "was deleted" in capsys.readouterr().err


# --- list, global flags, completion ------------------------------------------------------


def test_list_in_a_namespace_and_across_all(
    cluster: Any,
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_status(objects, namespace, release, phase="Verifying", revision="77aa")
    # Global flags before the command, as kubectl accepts them.
    argv = ["--kubeconfig", str(cluster.kubeconfig), "-n", namespace, "list"]
    assert cli.main(argv) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "PHASE", "DESIRED"]
    assert lines[1].split()[:3] == [release, "Verifying", "77aa"]
    assert len(lines) == 2

    assert cli.main(["list", "-A", "--kubeconfig", str(cluster.kubeconfig)]) == ExitCode.OK
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    assert [namespace, release, "Verifying", "77aa"] in [row[:4] for row in rows]


def test_kubectl_completes_the_plugin_and_its_release_names(
    cluster: Any, namespace: str, release: str
) -> None:
    # kubectl (1.26+) runs kubectl_complete-bluegreen, installed beside kubectl-bluegreen.
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "kubectl_complete-bluegreen").exists()
    env = {**cluster.env, "PATH": f"{bin_dir}{os.pathsep}{cluster.env['PATH']}"}

    def complete(*words: str) -> list[str]:
        done = subprocess.run(
            ["kubectl", "__complete", "bluegreen", *words],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout.splitlines()

    assert complete("sta") == ["status", ":4"]
    assert complete("status", "-n", namespace, release[:6]) == [release, ":4"]


# --- credentials the API server refuses --------------------------------------------------


def _kubeconfig_with_token(cluster: Any, tmp_path: Path, token: str, namespace: str) -> Path:
    return kubeconfig_with_token(
        cluster.kubeconfig, tmp_path / "limited-kubeconfig", token, namespace
    )


def _service_account_token(kubectl: Callable[..., Any], namespace: str, name: str) -> str:
    kubectl("create", "serviceaccount", name, "-n", namespace)
    token: str = kubectl("create", "token", name, "-n", namespace, "--duration=10m").stdout
    return token.strip()


def test_a_token_the_api_server_does_not_know_is_one_line(
    cluster: Any, namespace: str, release: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _kubeconfig_with_token(cluster, tmp_path, "not-a-real-token", namespace)
    assert cli.main(["status", release, "--kubeconfig", str(config)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: unauthorized: the API server at https://")
    assert "refused the credentials of context 'limited'" in err


def test_rights_decide_what_the_tree_shows(
    cluster: Any,
    kubectl: Callable[..., Any],
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = _service_account_token(kubectl, namespace, "viewer")
    config = _kubeconfig_with_token(cluster, tmp_path, token, namespace)
    write_status(objects, namespace, release, phase="Deploying", revision="77aa")

    # No rights at all: the release itself is forbidden, one line, exit 3.
    assert cli.main(["status", release, "--kubeconfig", str(config)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: forbidden: ")
    assert "bluegreenreleases" in err

    # Releases but not pods or Jobs: the tree shows the release and says what it cannot show.
    kubectl(
        "create", "role", "bgr-reader", "-n", namespace,
        "--verb=get,list,watch", f"--resource={PLURAL}.{GROUP},deployments",
    )  # fmt: skip
    kubectl(
        "create", "rolebinding", "bgr-reader", "-n", namespace,
        "--role=bgr-reader", f"--serviceaccount={namespace}:viewer",
    )  # fmt: skip

    def shows_the_tree() -> bool:
        return cli.main(["status", release, "--kubeconfig", str(config)]) == ExitCode.OK

    wait_for("the Role to take effect", shows_the_tree, timeout=30)
    page = capsys.readouterr().out.split("BlueGreenRelease  ")[-1]
    assert page.startswith(f"{namespace}/{release}  Deploying")
    assert "cannot show pods: forbidden: " in page
    assert "cannot show jobs: forbidden: " in page
    assert "cannot show deployments" not in page


# --- the API server going away under a watch ----------------------------------------------


class Proxy:
    """A TCP relay in front of the API server that the test can cut and restore.

    TLS passes through untouched: the server's certificate names 127.0.0.1, which is
    where the relay listens too. While cut, it accepts and drops every connection and
    counts them: the test knows the plugin tried again.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.connections: list[socket.socket] = []
        self.refused = 0
        self.cutting = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.lock:
                if self.cutting:
                    self.refused += 1
                    client.close()
                    continue
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.connections += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Break the open connections and drop new ones, as a dead API server would."""
        with self.lock:
            self.cutting = True
            for sock in self.connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.connections.clear()

    def restore(self) -> None:
        with self.lock:
            self.cutting = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def proxied(cluster: Any, tmp_path: Path) -> Iterator[tuple[Proxy, Path]]:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    entry = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    server = urllib.parse.urlsplit(entry["cluster"]["server"])
    proxy = Proxy((server.hostname or "127.0.0.1", server.port or 443))
    entry["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path = tmp_path / "proxied-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    yield proxy, path
    proxy.close()


def test_wait_rides_out_a_short_outage_of_the_api_server(
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    proxied: tuple[Proxy, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, kubeconfig = proxied
    write_status(objects, namespace, release, phase="Holding", conditions=[])
    thread, result = _wait_in_thread(
        kubeconfig, namespace, "status", release, "--wait", "--timeout", "90"
    )
    _until_rendered(capsys, "Holding")
    proxy.cut()
    # While the API server is unreachable the release completes; the plugin sees it
    # once the server is back, within its reconnection attempts.
    write_status(
        objects, namespace, release, phase="Complete", conditions=[condition("Ready", "True")]
    )
    wait_for("the plugin to try again twice", lambda: proxy.refused >= 2, timeout=30)
    assert thread.is_alive()
    proxy.restore()
    thread.join(timeout=60)
    assert result == [ExitCode.OK]


def test_wait_gives_up_with_one_line_when_the_api_server_stays_away(
    objects: client.CustomObjectsApi,
    namespace: str,
    release: str,
    proxied: tuple[Proxy, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, kubeconfig = proxied
    write_status(objects, namespace, release, phase="Holding", conditions=[])
    thread, result = _wait_in_thread(
        kubeconfig, namespace, "status", release, "--wait", "--timeout", "120"
    )
    _until_rendered(capsys, "Holding")
    started = time.monotonic()
    proxy.cut()
    thread.join(timeout=90)
    assert result == [ExitCode.ERROR]
    # Five attempts backing off 0.5 s to 8 s (about 15 s, not the 120 s timeout), plus
    # one at once when the cut reached the watch as a clean end of stream, not a reset.
    assert time.monotonic() - started < 60
    assert RECONNECT_ATTEMPTS <= proxy.refused <= RECONNECT_ATTEMPTS + 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert f"cannot reach the API server at https://127.0.0.1:{proxy.port}: " in err
