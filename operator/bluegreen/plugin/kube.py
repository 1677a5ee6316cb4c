"""The plugin's only contact with the API server: kubernetes_asyncio's ApiClient.

The operator reaches the API through the same async client; the plugin keeps
its own thin JSON layer (it may import nothing of the operator but
``bluegreen.api``). Every failure leaves here as one ``PluginError`` whose
message is one line a human can act on: the command exits 3 with it, never
with a traceback.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import yaml
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from bluegreen.plugin.resource import mapping, text
from bluegreen.plugin.version import plugin_version

JSON = dict[str, Any]
MERGE_PATCH: Final = "application/merge-patch+json"
DEFAULT_REQUEST_TIMEOUT: Final = 30.0
SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
WATCH_READ_TIMEOUT: Final = 90.0
"""Watches ask for bookmarks (about one a minute): a stream silent for longer is dead."""
_MESSAGE_LIMIT: Final = 300


class PluginError(Exception):
    """Anything that stops a command before it knows the release's state (exit 3)."""


class ApiError(PluginError):
    """The API server answered with an error; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class TransportError(PluginError):
    """The API server could not be reached, or the connection broke."""


def one_line(value: object, limit: int = _MESSAGE_LIMIT) -> str:
    """Errors carry server text and exception reprs: keep them to one short line."""
    flat = " ".join(str(value).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@dataclass(frozen=True)
class Target:
    """Where the commands go: the server, the context's name and its namespace."""

    host: str
    context: str
    namespace: str


def _transport_reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError | aiohttp.ServerTimeoutError):
        return "timed out"
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not trusted ({one_line(err.certificate_error)})"
    if isinstance(err, aiohttp.ClientSSLError | ssl.SSLError):
        return "TLS handshake failed"
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {err.host}"
    if isinstance(err, aiohttp.ClientConnectorError):
        cause = err.os_error
        if cause.errno:
            return os.strerror(cause.errno).lower()
        if isinstance(cause, ConnectionResetError):
            return "the connection was reset"
        return one_line(cause.strerror or cause) or type(cause).__name__
    if isinstance(err, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "the server closed the connection"
    return one_line(f"{type(err).__name__}: {err}") if str(err) else type(err).__name__


def _status_message(status: int, data: bytes) -> tuple[str, str]:
    """The Kubernetes Status object's message and reason, else the raw body."""
    try:
        payload = json.loads(data) if data else {}
    except ValueError:
        payload = {}
    body = mapping(payload)
    message = text(body.get("message")) or one_line(data.decode(errors="replace")) or str(status)
    return one_line(message), text(body.get("reason"))


class KubeApi:
    """JSON requests and watch streams; errors become ``PluginError`` subclasses."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        target: Target,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self.api = api
        self.target = target
        self.request_timeout = request_timeout

    async def close(self) -> None:
        await self.api.close()

    def _unreachable(self, err: BaseException) -> TransportError:
        return TransportError(
            f"cannot reach the API server at {self.target.host}: {_transport_reason(err)}"
        )

    def _timeout(self, read: float | None = None) -> aiohttp.ClientTimeout:
        connect = min(self.request_timeout, 10.0)
        if read is None:
            return aiohttp.ClientTimeout(
                total=self.request_timeout, connect=connect, sock_connect=connect
            )
        return aiohttp.ClientTimeout(connect=connect, sock_connect=connect, sock_read=read)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            response = await self.api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=self._timeout(),
            )
            try:
                data = await response.read()
            finally:
                response.release()
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            raise self._unreachable(err) from None
        status = int(response.status)
        if not 200 <= status < 300:
            raise self._api_error(status, data)
        try:
            return dict(mapping(json.loads(data))) if data else {}
        except ValueError:
            raise PluginError(f"the API server at {self.target.host} sent invalid JSON") from None

    def _api_error(self, status: int, data: bytes) -> ApiError:
        message, reason = _status_message(status, data)
        if status == 401:
            message = (
                f"unauthorized: the API server at {self.target.host} refused the credentials "
                f"of context {self.target.context!r} ({message})"
            )
        elif status == 403:
            message = f"forbidden: {message}"
        else:
            message = f"the API server answered {status}: {message}"
        return ApiError(status, message, reason)

    async def stream(self, path: str, query: Mapping[str, str]) -> AsyncIterator[JSON]:
        """Watch events, one JSON object per line, until the server ends the watch."""
        try:
            response = await self.api.call_api(
                path,
                "GET",
                query_params=[*query.items(), ("watch", "true")],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=self._timeout(read=WATCH_READ_TIMEOUT),
            )
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            raise self._unreachable(err) from None
        try:
            status = int(response.status)
            if not 200 <= status < 300:
                raise self._api_error(status, await response.read())
            pending = b""
            # Not readline(): aiohttp caps a line at 64 KiB and one object may be larger.
            async for chunk in response.content.iter_any():
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        yield dict(mapping(json.loads(line)))
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            raise TransportError(
                f"lost the watch on the API server at {self.target.host}: {_transport_reason(err)}"
            ) from None
        except ValueError:
            raise PluginError(f"the API server at {self.target.host} sent invalid JSON") from None
        finally:
            response.release()


def _context_namespace(loader: Any) -> tuple[str, str]:
    current = mapping(loader.current_context)
    namespace = text(mapping(current.get("context")).get("namespace"), "default")
    return text(current.get("name"), "-"), namespace


def _in_cluster_namespace() -> str:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return "default"


def _kubeconfig_files(kubeconfig: str | None) -> list[Path]:
    """The files kubectl would read: ``--kubeconfig``, else ``$KUBECONFIG``'s list, else
    ``~/.kube/config``."""
    if kubeconfig is not None:
        return [Path(kubeconfig).expanduser()]
    listed = os.environ.get("KUBECONFIG", "")
    paths = [p for p in listed.split(os.pathsep) if p] or ["~/.kube/config"]
    return [Path(p).expanduser() for p in paths]


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


async def connect(
    kubeconfig: str | None,
    context: str | None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> KubeApi:
    """A client configured like kubectl: ``--kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``,
    else the pod's ServiceAccount when run in-cluster (a CI job, say)."""
    configuration = k8s_client.Configuration()
    files = _kubeconfig_files(kubeconfig)
    found = [f for f in files if f.is_file()]
    if kubeconfig is not None and not found:
        raise PluginError(f"cannot read kubeconfig {kubeconfig}: no such file")
    if not found and (context is not None or not _in_cluster()):
        names = ", ".join(str(f) for f in files)
        raise PluginError(f"no kubeconfig found ({names}) and not running in a pod")
    try:
        if found:
            loader = await k8s_config.load_kube_config(
                config_file=os.pathsep.join(str(f) for f in found),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            context_name, namespace = _context_namespace(loader)
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]  # untyped upstream
            context_name, namespace = "in-cluster", _in_cluster_namespace()
    except (yaml.YAMLError, OSError) as err:
        raise PluginError(f"cannot read kubeconfig: {one_line(err)}") from None
    except k8s_config.ConfigException as err:
        raise PluginError(f"cannot load kubeconfig: {one_line(err)}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        # A file that parses as YAML but is no kubeconfig.
        raise PluginError(
            f"cannot load kubeconfig: not a kubeconfig ({type(err).__name__}: {one_line(err)})"
        ) from None
    target = Target(host=str(configuration.host), context=context_name, namespace=namespace)
    try:
        api = k8s_client.ApiClient(configuration)
    except (OSError, ssl.SSLError) as err:
        raise PluginError(f"cannot use the kubeconfig's TLS files: {one_line(err)}") from None
    api.user_agent = f"kubectl-bluegreen/{plugin_version()}"
    return KubeApi(api, target, request_timeout)
