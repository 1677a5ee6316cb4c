"""Where the API server is and who we are to it: the kubeconfig named, else the
service account in a pod, else ``~/.kube/config``; and an aiohttp session that
speaks to it.

The operator needs only a TLS connection and a bearer token or client
certificate, so it reads them itself instead of importing a generated client
library: those are about 1,200 modules and 37 MiB that every replica would
hold for nothing (kopf imports them too whenever they can be imported; see
``bluegreen.entry``). Exec credential plugins (the cloud providers' kubeconfigs)
are run as kubectl runs them; the long-deprecated ``auth-provider`` is refused
with a clear error.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD_SECONDS = 60.0
"""A projected service-account token is rotated by the kubelet; re-read it this often."""
EXEC_REFRESH_MARGIN_SECONDS = 60.0
"""An exec plugin's token is replaced this long before it expires."""
EXEC_TIMEOUT_SECONDS = 30.0


class ConnectionConfigError(Exception):
    """No usable credentials: the message says what was missing or unsupported."""


@dataclass
class Credentials:
    """What every request needs; how the token is obtained is decided once, here."""

    server: str
    ca_pem: str | None = None
    insecure: bool = False
    cert_pem: str | None = None
    key_pem: str | None = None
    token: str | None = None
    token_file: str | None = None
    exec_spec: Mapping[str, Any] | None = None
    default_namespace: str = "default"
    _token_read_at: float | None = field(default=None, repr=False)
    """When ``token_file`` was last read (``time.monotonic()``); None: never, or a 401 since."""
    _token_expires_at: float = field(default=0.0, repr=False)

    async def bearer(self) -> str | None:
        """The current token (re-read or re-obtained when due), or None for cert auth."""
        now = time.monotonic()
        # Not "now - 0 > 60": the monotonic clock may start near zero (a pod on a
        # node or VM just booted), and a token never read would never be sent.
        if self.token_file and (
            self._token_read_at is None or now - self._token_read_at > TOKEN_REREAD_SECONDS
        ):
            self.token = _read_token(self.token_file)
            self._token_read_at = now
        elif self.exec_spec is not None and (
            self.token is None or now > self._token_expires_at - EXEC_REFRESH_MARGIN_SECONDS
        ):
            self.token, lifetime = await run_exec_plugin(self.exec_spec)
            self._token_expires_at = now + lifetime
        return self.token

    def token_lifetime(self) -> float | None:
        """Seconds the current token stays valid, when it is known to expire."""
        if self.token_file:
            return TOKEN_REREAD_SECONDS
        if self.exec_spec is not None:
            return max(self._token_expires_at - time.monotonic() - EXEC_REFRESH_MARGIN_SECONDS, 0)
        return None

    def expire_token(self) -> None:
        """After a 401: the next request reads or asks for a fresh token."""
        self._token_read_at = None
        self._token_expires_at = 0.0

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        context = ssl.create_default_context(cadata=self.ca_pem) if self.ca_pem else None
        context = context or ssl.create_default_context()
        if self.cert_pem and self.key_pem:
            _load_cert_chain(context, self.cert_pem, self.key_pem)
        return context


def _read_token(path: str) -> str:
    # A few hundred bytes from a local file, once a minute: not worth a thread.
    return Path(path).read_text().strip()


def _load_cert_chain(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    # ssl takes a client certificate only from files: private ones, gone at once.
    with tempfile.TemporaryDirectory(prefix="bluegreen-tls-") as folder:
        cert, key = Path(folder, "tls.crt"), Path(folder, "tls.key")
        for path, text in ((cert, cert_pem), (key, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(text)
        context.load_cert_chain(str(cert), str(key))


def load_credentials(kubeconfig: str | None = None) -> Credentials:
    """A kubeconfig named (``--kubeconfig`` or ``KUBECONFIG``) first, then the pod's
    service account, then ``~/.kube/config``: the order of client-go's tools.

    A kubeconfig given to an operator in a pod names another cluster on purpose;
    Terraform's provider is pointed at it too (``terraform_environment``), so the
    operator's own requests must not go to the pod's cluster instead.
    """
    if kubeconfig:
        return kubeconfig_credentials(kubeconfig)
    in_cluster = in_cluster_credentials()
    if in_cluster is not None:
        return in_cluster
    return kubeconfig_credentials()


_shared: dict[str | None, Credentials] = {}


def shared_credentials(kubeconfig: str | None = None) -> Credentials:
    """One ``Credentials`` per process and kubeconfig: every session and kopf's login
    use the same token, so an exec plugin runs once per token, not once per session."""
    if kubeconfig not in _shared:
        _shared[kubeconfig] = load_credentials(kubeconfig)
    return _shared[kubeconfig]


def in_cluster_credentials(root: Path = SERVICE_ACCOUNT) -> Credentials | None:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    token = root / "token"
    if not host or not port or not token.exists():
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6
    namespace = root / "namespace"
    return Credentials(
        server=f"https://{host}:{port}",
        ca_pem=(root / "ca.crt").read_text(),
        token_file=str(token),
        default_namespace=namespace.read_text().strip() if namespace.exists() else "default",
    )


def kubeconfig_credentials(path: str | None = None) -> Credentials:
    files = _kubeconfig_files(path)
    merged: dict[str, dict[str, Any]] = {"clusters": {}, "users": {}, "contexts": {}}
    current = ""
    for file in files:
        document = yaml.safe_load(file.read_text()) or {}
        if not isinstance(document, dict):
            raise ConnectionConfigError(f"{file}: not a kubeconfig")
        current = current or str(document.get("current-context") or "")
        for section, entries in merged.items():
            for entry in document.get(section) or []:
                # The first file to name an entry wins, as kubectl merges them.
                entries.setdefault(str(entry.get("name")), {"_dir": file.parent, **entry})
    if not current:
        raise ConnectionConfigError(f"{', '.join(map(str, files))}: no current-context")
    context = _entry(merged, "contexts", current, "context")
    cluster = _entry(merged, "clusters", str(context.get("cluster") or ""), "cluster")
    user = _entry(merged, "users", str(context.get("user") or ""), "user")
    server = str(cluster.get("server") or "")
    if not server:
        raise ConnectionConfigError(f"cluster {context.get('cluster')!r} has no server")
    if user.get("auth-provider"):
        raise ConnectionConfigError(
            "the kubeconfig's user uses an auth-provider, which Kubernetes removed in 1.26;"
            " use an exec credential plugin (the provider's kubectl plugin) instead"
        )
    if user.get("username") and not user.get("token"):
        raise ConnectionConfigError("basic authentication is not supported: use a token")
    return Credentials(
        server=server.rstrip("/"),
        ca_pem=_data_or_file(cluster, "certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        cert_pem=_data_or_file(user, "client-certificate"),
        key_pem=_data_or_file(user, "client-key"),
        token=str(user["token"]) if user.get("token") else None,
        token_file=str(_resolve(user, str(user["tokenFile"]))) if user.get("tokenFile") else None,
        exec_spec={**user["exec"], "_dir": user["_dir"]} if user.get("exec") else None,
        default_namespace=str(context.get("namespace") or "default"),
    )


def _kubeconfig_files(path: str | None) -> list[Path]:
    listed = path or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    files = [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    existing = [f for f in files if f.is_file()]
    if not existing:
        raise ConnectionConfigError(
            f"no kubeconfig at {listed} and not in a pod with a service account"
        )
    return existing


def _entry(merged: dict[str, dict[str, Any]], section: str, name: str, key: str) -> dict[str, Any]:
    found = merged[section].get(name)
    if found is None:
        raise ConnectionConfigError(f"kubeconfig: no {key} named {name!r}")
    return {"_dir": found["_dir"], **(found.get(key) or {})}


def _resolve(entry: Mapping[str, Any], value: str) -> Path:
    """Paths in a kubeconfig are relative to the file that names them."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(entry["_dir"]) / path


def _data_or_file(entry: Mapping[str, Any], key: str) -> str | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(str(entry[f"{key}-data"])).decode()
    if entry.get(key):
        return _resolve(entry, str(entry[key])).read_text()
    return None


async def run_exec_plugin(spec: Mapping[str, Any]) -> tuple[str, float]:
    """Run a client-go exec credential plugin: (token, seconds it stays valid)."""
    command = str(spec.get("command") or "")
    if not command:
        raise ConnectionConfigError("kubeconfig: exec without a command")
    if "/" in command and not Path(command).is_absolute():
        command = str(Path(spec["_dir"]) / command)
    env = {**os.environ, **{str(e["name"]): str(e["value"]) for e in spec.get("env") or []}}
    api_version = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1")
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    )
    process = await asyncio.create_subprocess_exec(
        command,
        *[str(a) for a in spec.get("args") or []],
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), EXEC_TIMEOUT_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise ConnectionConfigError(f"exec plugin {command} did not answer in time") from None
    if process.returncode != 0:
        raise ConnectionConfigError(
            f"exec plugin {command} failed ({process.returncode}): {err.decode()[-300:]}"
        )
    status = (json.loads(out) or {}).get("status") or {}
    token = status.get("token")
    if not token:
        raise ConnectionConfigError(
            f"exec plugin {command} returned no token (client certificates are not supported)"
        )
    expires = status.get("expirationTimestamp")
    lifetime = 3600.0
    if expires:
        when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        lifetime = max((when - datetime.now(UTC)).total_seconds(), 0.0)
    return str(token), lifetime


class ApiSession:
    """One pool of connections to the API server, with its own size and user agent."""

    def __init__(self, credentials: Credentials, connections: int, user_agent: str) -> None:
        self.credentials = credentials
        self.connections = connections
        self.user_agent = user_agent
        """Told to the API server with every request: its audit log tells us apart by it."""
        self._connector = aiohttp.TCPConnector(
            limit=connections, ssl=credentials.ssl_context(), enable_cleanup_closed=True
        )
        self.session = aiohttp.ClientSession(connector=self._connector)

    async def headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, **extra}
        token = await self.credentials.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def url(self, path: str) -> str:
        return self.credentials.server + path

    async def close(self) -> None:
        await self.session.close()
