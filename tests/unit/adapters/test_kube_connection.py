"""Credentials as kubectl finds them: kubeconfig files (merged, relative paths,
inline data), the pod's service account, exec plugins; and what is refused."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.adapters import kube_connection
from bluegreen.adapters.kube_connection import (
    TOKEN_REREAD_SECONDS,
    ConnectionConfigError,
    Credentials,
    in_cluster_credentials,
    kubeconfig_credentials,
    load_credentials,
    shared_credentials,
)
from bluegreen.adapters.kube_rest import USER_AGENT, user_agent

CA = "-----BEGIN CERTIFICATE-----\nnot-a-real-ca\n-----END CERTIFICATE-----\n"


def kubeconfig(
    path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None, **top: Any
) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dev",
        "contexts": [
            {"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "team"}}
        ],
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://10.0.0.1:6443/"}}],
        "users": [{"name": "u", "user": user}],
        **top,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def test_inline_data_and_token(tmp_path: Path) -> None:
    encoded = base64.b64encode(CA.encode()).decode()
    path = kubeconfig(
        tmp_path / "config",
        {"token": "abc"},
        {"server": "https://10.0.0.1:6443/", "certificate-authority-data": encoded},
    )
    credentials = kubeconfig_credentials(str(path))
    assert credentials.server == "https://10.0.0.1:6443"
    assert credentials.ca_pem == CA
    assert credentials.token == "abc"
    assert credentials.default_namespace == "team"


def test_file_paths_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text(CA)
    (tmp_path / "pki" / "client.crt").write_text("CERT")
    (tmp_path / "pki" / "client.key").write_text("KEY")
    path = kubeconfig(
        tmp_path / "config",
        {"client-certificate": "pki/client.crt", "client-key": "pki/client.key"},
        {"server": "https://h:1", "certificate-authority": "pki/ca.crt"},
    )
    credentials = kubeconfig_credentials(str(path))
    assert (credentials.ca_pem, credentials.cert_pem, credentials.key_pem) == (CA, "CERT", "KEY")
    assert credentials.token is None


def test_several_files_merge_with_the_first_winning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kubeconfig(tmp_path / "a", {"token": "first"}, **{"current-context": "dev"})
    second = kubeconfig(tmp_path / "b", {"token": "second"}, **{"current-context": "other"})
    monkeypatch.setenv(
        "KUBECONFIG", f"{tmp_path / 'missing'}{os.pathsep}{first}{os.pathsep}{second}"
    )
    assert kubeconfig_credentials().token == "first"


@pytest.mark.parametrize(
    ("user", "words"),
    [
        ({"auth-provider": {"name": "gcp"}}, "auth-provider"),
        ({"username": "admin", "password": "x"}, "basic authentication"),
    ],
)
def test_unsupported_users_are_refused_by_name(
    tmp_path: Path, user: dict[str, Any], words: str
) -> None:
    with pytest.raises(ConnectionConfigError, match=words):
        kubeconfig_credentials(str(kubeconfig(tmp_path / "config", user)))


def test_a_missing_context_or_file_says_which(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", {"token": "t"}, **{"current-context": "nope"})
    with pytest.raises(ConnectionConfigError, match="no context named 'nope'"):
        kubeconfig_credentials(str(path))
    with pytest.raises(ConnectionConfigError, match="no kubeconfig"):
        kubeconfig_credentials(str(tmp_path / "absent"))


async def test_a_token_file_is_read_again_when_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    credentials = kubeconfig_credentials(
        str(kubeconfig(tmp_path / "config", {"tokenFile": str(token)}))
    )
    assert await credentials.bearer() == "one"
    token.write_text("two\n")
    assert await credentials.bearer() == "one"  # not due yet
    credentials.expire_token()  # as after a 401
    assert await credentials.bearer() == "two"


def test_in_cluster_reads_the_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("pod-token")
    (tmp_path / "ca.crt").write_text(CA)
    (tmp_path / "namespace").write_text("ops\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    credentials = in_cluster_credentials(tmp_path)
    assert credentials is not None
    assert credentials.server == "https://[fd00::1]:443"
    assert credentials.token_file == str(tmp_path / "token")
    assert credentials.default_namespace == "ops"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert in_cluster_credentials(tmp_path) is None


async def test_the_service_account_token_is_sent_however_young_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # time.monotonic() counts from the node's boot: a few seconds on a node or
    # VM just started. The token must still be read on the first request, and
    # read again after a 401.
    clock = [3.0]
    monkeypatch.setattr(kube_connection.time, "monotonic", lambda: clock[0])
    (tmp_path / "token").write_text("first\n")
    (tmp_path / "ca.crt").write_text(CA)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    credentials = in_cluster_credentials(tmp_path)
    assert credentials is not None
    assert await credentials.bearer() == "first"
    (tmp_path / "token").write_text("rotated\n")
    clock[0] = 5.0
    assert await credentials.bearer() == "first"  # not due yet
    credentials.expire_token()  # as after a 401
    assert await credentials.bearer() == "rotated"
    clock[0] = 5.0 + TOKEN_REREAD_SECONDS + 1
    (tmp_path / "token").write_text("later\n")
    assert await credentials.bearer() == "later"  # due again


def test_a_named_kubeconfig_wins_over_the_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --kubeconfig (or KUBECONFIG) in a pod names another cluster on purpose, as
    # Terraform is told; only without one does the pod's service account count.
    pod = Credentials(server="https://10.96.0.1:443", token_file="/pod/token")
    monkeypatch.setattr(kube_connection, "in_cluster_credentials", lambda: pod)
    path = kubeconfig(tmp_path / "config", {"token": "t"})
    assert load_credentials(str(path)).server == "https://10.0.0.1:6443"
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert load_credentials(None) is pod


def test_outside_a_pod_the_kubeconfig_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    path = kubeconfig(tmp_path / "config", {"token": "t"})
    assert load_credentials(str(path)).token == "t"


def exec_plugin(tmp_path: Path, output: dict[str, Any], code: int = 0) -> Path:
    """A real executable speaking the ExecCredential protocol; it logs each run."""
    script = tmp_path / "bin" / "credential-plugin"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(tmp_path / 'runs')!r}, 'a').write(os.environ['KUBERNETES_EXEC_INFO'] + '\\n')\n"
        f"print(json.dumps({output!r}))\n"
        f"sys.exit({code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


async def test_an_exec_plugin_is_run_and_its_token_reused_until_it_expires(
    tmp_path: Path,
) -> None:
    exec_plugin(
        tmp_path,
        {
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {"token": "from-plugin", "expirationTimestamp": "2999-01-01T00:00:00Z"},
        },
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "./bin/credential-plugin",
        }
    }
    credentials = kubeconfig_credentials(str(kubeconfig(tmp_path / "config", user)))
    assert await credentials.bearer() == "from-plugin"
    assert await credentials.bearer() == "from-plugin"
    runs = (tmp_path / "runs").read_text().splitlines()
    assert len(runs) == 1
    assert json.loads(runs[0])["kind"] == "ExecCredential"
    lifetime = credentials.token_lifetime()
    assert lifetime is not None and lifetime > 3600
    credentials.expire_token()
    assert await credentials.bearer() == "from-plugin"
    assert len((tmp_path / "runs").read_text().splitlines()) == 2


async def test_a_failing_exec_plugin_is_a_clear_error(tmp_path: Path) -> None:
    script = exec_plugin(tmp_path, {"status": {}}, code=3)
    credentials = kubeconfig_credentials(
        str(kubeconfig(tmp_path / "config", {"exec": {"command": str(script)}}))
    )
    with pytest.raises(ConnectionConfigError, match=r"failed \(3\)"):
        await credentials.bearer()


async def test_an_exec_plugin_without_a_token_is_refused(tmp_path: Path) -> None:
    script = exec_plugin(tmp_path, {"status": {"clientCertificateData": "x"}})
    credentials = kubeconfig_credentials(
        str(kubeconfig(tmp_path / "config", {"exec": {"command": str(script)}}))
    )
    with pytest.raises(ConnectionConfigError, match="no token"):
        await credentials.bearer()


def test_insecure_clusters_skip_verification(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        {"token": "t"},
        {"server": "https://h:1", "insecure-skip-tls-verify": True},
    )
    assert kubeconfig_credentials(str(path)).ssl_context() is False


async def test_sessions_share_one_token_per_kubeconfig(tmp_path: Path) -> None:
    """Four sessions and kopf's login: the exec plugin runs once, not five times."""
    exec_plugin(
        tmp_path,
        {"status": {"token": "shared", "expirationTimestamp": "2999-01-01T00:00:00Z"}},
    )
    path = str(kubeconfig(tmp_path / "config", {"exec": {"command": "./bin/credential-plugin"}}))
    for _ in range(5):
        assert await shared_credentials(path).bearer() == "shared"
    assert len((tmp_path / "runs").read_text().splitlines()) == 1


def test_each_shard_names_itself_to_the_api_server() -> None:
    assert user_agent() == USER_AGENT == user_agent(0, 1)
    agents = {user_agent(index, 3) for index in range(3)}
    assert len(agents) == 3, "the audit log tells the shards apart"
    assert all(a.startswith(USER_AGENT + " ") for a in agents)
    assert user_agent(2, 3).endswith("(shard 2 of 3)")
