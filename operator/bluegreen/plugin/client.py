"""The plugin's only contact with the API server (synchronous client).

A command-line tool runs one request at a time, so the blocking ``kubernetes``
client fits here; the operator itself uses the async one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import yaml
from kubernetes import client
from kubernetes import config as _config
from kubernetes import watch as _watch
from kubernetes.client import ApiException

from bluegreen.api.v1alpha1 import GROUP, PLURAL, VERSION
from bluegreen.plugin.resource import Obj, mapping

# The client ships py.typed but leaves its config and watch helpers unannotated;
# reaching them through Any keeps --strict meaningful for the rest of this file.
config: Any = _config
watch: Any = _watch

# A watch is re-opened at least this often so a silently dead connection
# (a NAT timeout, say) cannot hang the plugin forever.
WATCH_CHUNK_SECONDS = 300
HTTP_NOT_FOUND = 404
HTTP_GONE = 410


class PluginError(Exception):
    """Anything that stops a command before it knows the release's state."""


class ReleaseNotFoundError(PluginError):
    pass


class ReleaseClient(Protocol):
    def get(self, namespace: str, name: str) -> Obj: ...

    def patch_annotations(self, namespace: str, name: str, patch: dict[str, Any]) -> Obj: ...

    def watch(self, namespace: str, name: str, timeout: float | None) -> Iterator[Obj]:
        """Yield the release each time it changes, until ``timeout`` seconds pass."""
        ...


def _api_error(exc: ApiException, namespace: str, name: str) -> PluginError:
    if exc.status == HTTP_NOT_FOUND:
        message = f'bluegreenrelease "{name}" not found in namespace "{namespace}"'
        return ReleaseNotFoundError(message)
    return PluginError(f"API error {exc.status}: {exc.reason}")


class KubernetesReleaseClient:
    def __init__(
        self, api: client.CustomObjectsApi, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._api = api
        self._monotonic = monotonic

    def get(self, namespace: str, name: str) -> Obj:
        try:
            result = self._api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            raise _api_error(exc, namespace, name) from exc
        return mapping(result)

    def patch_annotations(self, namespace: str, name: str, patch: dict[str, Any]) -> Obj:
        try:
            result = self._api.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                patch,
                # Merge patch: sibling annotations and the rest of the object stay as they are.
                _content_type="application/merge-patch+json",
            )
        except ApiException as exc:
            raise _api_error(exc, namespace, name) from exc
        return mapping(result)

    def watch(self, namespace: str, name: str, timeout: float | None) -> Iterator[Obj]:
        deadline = None if timeout is None else self._monotonic() + timeout
        resource_version: str | None = None
        while True:
            chunk = WATCH_CHUNK_SECONDS
            if deadline is not None:
                left = deadline - self._monotonic()
                if left <= 0:
                    return
                chunk = min(chunk, math.ceil(left))
            kwargs: dict[str, Any] = {
                "field_selector": f"metadata.name={name}",
                "timeout_seconds": chunk,
                "_request_timeout": chunk + 10,
            }
            if resource_version is not None:
                kwargs["resource_version"] = resource_version
            try:
                for event in watch.Watch().stream(
                    self._api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    **kwargs,
                ):
                    obj = mapping(event.get("object"))
                    resource_version = mapping(obj.get("metadata")).get("resourceVersion")
                    if event.get("type") == "DELETED":
                        raise ReleaseNotFoundError(f'bluegreenrelease "{name}" was deleted')
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        yield obj
            except ApiException as exc:
                if exc.status != HTTP_GONE:
                    raise _api_error(exc, namespace, name) from exc
                # History compacted: start over from the current state.
                resource_version = None


def connect(kubeconfig: str | None, context: str | None) -> tuple[ReleaseClient, str]:
    """A client and the namespace to use when none is given, like kubectl."""
    try:
        config.load_kube_config(config_file=kubeconfig, context=context)
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = active
        if context is not None:
            chosen = next((c for c in contexts if c.get("name") == context), active)
        namespace = mapping(mapping(chosen).get("context")).get("namespace") or "default"
    except (yaml.YAMLError, OSError) as exc:
        raise PluginError(f"cannot read kubeconfig: {exc}") from exc
    except config.ConfigException as exc:
        if kubeconfig is not None or context is not None:
            raise PluginError(f"cannot load kubeconfig: {exc}") from exc
        try:
            # Inside a pod (a CI job, say) there is no kubeconfig, only a ServiceAccount.
            config.load_incluster_config()
        except config.ConfigException as incluster_exc:
            raise PluginError(f"cannot load kubeconfig: {exc}") from incluster_exc
        namespace = _incluster_namespace()
    return KubernetesReleaseClient(client.CustomObjectsApi()), str(namespace)


def _incluster_namespace() -> str:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"
