"""A small JSON REST layer over an authenticated aiohttp session (``kube_connection``).

The operator reads and writes plain camelCase dicts, never a generated client's
typed models. Every failure becomes one error type, ``KubeError``.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.metadata
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp

from bluegreen.adapters.api_paths import resource_of, verb_of
from bluegreen.adapters.kube_connection import ApiSession, shared_credentials
from bluegreen.adapters.request_slots import (
    RequestSlots,
    priority_of,
    take,
)
from bluegreen.api.v1alpha1 import FIELD_MANAGER


def _version() -> str:
    try:
        return importlib.metadata.version("bluegreen-operator")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


JSON = dict[str, Any]
USER_AGENT = f"bluegreen-operator/{_version()}"


def user_agent(shard_index: int = 0, shards: int = 1) -> str:
    """The operator's user agent; with shards, which one: the audit log tells them apart."""
    return USER_AGENT if shards <= 1 else f"{USER_AGENT} (shard {shard_index} of {shards})"


MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
WATCH_READ_TIMEOUT = 120.0
"""A watch asks for bookmarks, which the API server sends about once a minute: a
stream silent for longer than this is a dead connection (a partition), not a quiet one."""


class KubeError(Exception):
    """An API call failed; ``status`` is the HTTP status (0 for transport errors)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def namespace_terminating(self) -> bool:
        """A create refused because the namespace is being deleted: nothing to retry.

        The release goes with its namespace; its own deletion runs the cleanup.
        """
        return self.status == 403 and "being terminated" in self.message


class NotLeadingError(KubeError):
    """A write refused before it left the process: this replica does not hold the Lease.

    A ``KubeError`` (status 0, like a transport failure) so that every caller's
    existing error path applies: nothing is recorded, the step is tried again.
    """

    def __init__(self) -> None:
        super().__init__(0, "not the leader: the Lease is not held or its renewal is overdue")


REQUEST_TIMEOUT = aiohttp.ClientTimeout(sock_connect=10.0, sock_read=30.0)
"""Bounds on the API server, not on our own queue: aiohttp's ``total`` and ``connect``
also count the wait for a free connection of the pool, and with a thousand releases
stepping at once that wait alone passed 10 s; every such request then failed, its
step backed off for up to 30 s and came back to a longer queue (candidate Available
-> switch p99 136 s at 1000 releases). A request waits its turn; once sent, the
server has 10 s to accept the connection and 30 s between bytes of its answer."""


async def make_api_client(kubeconfig: str | None = None, connections: int = 16) -> ApiSession:
    """Credentials as ``load_credentials`` finds them: the kubeconfig named, else the
    pod's service account, else ``~/.kube/config``.

    Each TLS connection holds a 256 KiB read buffer; a handful is plenty for one
    operator process's requests. Watches hold their connection for minutes: they
    get a session of their own, sized to them, so that they never starve requests.
    """
    return ApiSession(shared_credentials(kubeconfig), connections, USER_AGENT)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _message(data: bytes, status: int) -> str:
    """The API server's own words (a Status object's message), else the raw body."""
    try:
        payload = json.loads(data)
    except ValueError:
        return data.decode(errors="replace")[:500] or str(status)
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("reason") or payload or status)
    return str(payload)


class KubeRest:
    def __init__(
        self,
        api: ApiSession,
        may_write: Callable[[], bool] = lambda: True,
        on_response: Callable[[str, str, int], None] = lambda verb, resource, code: None,
    ) -> None:
        self.api = api
        self._slots: RequestSlots | None = None
        """As many as the session's connections: a request holding one is sent at once,
        so one still waiting for a slot has not left the process (``unless``)."""
        self.may_write = may_write
        self.on_response = on_response
        """Told (verb, resource, HTTP code; 0 for a transport error) of every request."""
        """Consulted before every write: False (a replica without the Lease) refuses it."""

    def check_writable(self) -> None:
        if not self.may_write():
            raise NotLeadingError

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        unless: asyncio.Event | None = None,
    ) -> JSON:
        """One request. ``unless``: once that event is set, a request still waiting for a
        connection is dropped unsent (``SupersededError``); one already sent completes."""
        if method != "GET":
            self.check_writable()
        headers = {"Accept": "application/json", "Content-Type": content_type}
        data = b"" if body is None else json.dumps(body, default=_encode).encode()
        slots = self._slots_of_session()
        await take(slots, unless, priority_of(method, path))
        try:
            async with self.api.session.request(
                method,
                self.api.url(path),
                params=dict(query or {}),
                data=data or None,
                headers=await self.api.headers(headers),
                timeout=REQUEST_TIMEOUT,
            ) as response:
                status = int(response.status)
                data = await response.read()
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            # A dropped connection (an API server restart) is a transport error like
            # any other: the step is retried with backoff, nothing is recorded.
            self._count(method, path, 0)
            raise KubeError(0, f"transport error: {err!r}") from err
        finally:
            slots.release()
        self._count(method, path, status)
        if status == 401:
            self.api.credentials.expire_token()
        if not 200 <= status < 300:
            raise KubeError(status, _message(data, status))
        payload: JSON = json.loads(data) if data else {}
        return payload

    def _slots_of_session(self) -> RequestSlots:
        if self._slots is None:
            self._slots = RequestSlots(self.api.connections)
        return self._slots

    def _count(self, method: str, path: str, code: int, verb: str = "") -> None:
        self.on_response(verb or verb_of(method, path), resource_of(path), code)

    async def stream(self, path: str, query: Mapping[str, str]) -> AsyncIterator[JSON]:
        """The events of a watch, one JSON object per line, until the server ends it."""
        try:
            response = await self.api.session.get(
                self.api.url(path),
                params=dict(query),
                headers=await self.api.headers({"Accept": "application/json"}),
                timeout=aiohttp.ClientTimeout(sock_connect=10.0, sock_read=WATCH_READ_TIMEOUT),
            )
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            self._count("GET", path, 0, verb="watch")
            raise KubeError(0, f"transport error: {err!r}") from err
        status = int(response.status)
        self._count("GET", path, status, verb="watch")
        try:
            if status == 401:
                self.api.credentials.expire_token()
            if not 200 <= status < 300:
                raise KubeError(status, _message(await response.read(), status))
            pending = b""
            # Not readline(): aiohttp caps a line at 64 KiB, and one object may be larger.
            async for chunk in response.content.iter_any():
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            raise KubeError(0, f"watch interrupted: {err!r}") from err
        finally:
            response.release()

    async def get(self, path: str) -> JSON | None:
        try:
            return await self.request("GET", path)
        except KubeError as err:
            if err.not_found:
                return None
            raise

    async def list_items(self, path: str, label_selector: str | None = None) -> list[JSON]:
        query = {"labelSelector": label_selector} if label_selector else None
        items = (await self.request("GET", path, query=query)).get("items") or []
        return [dict(item) for item in items]

    async def create(self, path: str, body: Mapping[str, Any]) -> JSON | None:
        """Create; an existing object is fine (every step is idempotent). None on 409."""
        try:
            return await self.request(
                "POST", path, body=dict(body), query={"fieldManager": FIELD_MANAGER}
            )
        except KubeError as err:
            if err.conflict:
                return None
            raise

    async def merge_patch(
        self, path: str, patch: Mapping[str, Any], unless: asyncio.Event | None = None
    ) -> JSON:
        return await self.request(
            "PATCH",
            path,
            body=dict(patch),
            query={"fieldManager": FIELD_MANAGER},
            content_type=MERGE_PATCH,
            unless=unless,
        )

    async def json_patch(self, path: str, operations: list[dict[str, Any]]) -> JSON:
        return await self.request(
            "PATCH",
            path,
            body=operations,
            query={"fieldManager": FIELD_MANAGER},
            content_type=JSON_PATCH,
        )

    async def delete(
        self, path: str, propagation: str = "Background", uid: str = "", resource_version: str = ""
    ) -> bool:
        """Delete; False when it was already gone. ``uid`` and ``resource_version`` are
        preconditions: the API server answers 409 when the object is another or changed."""
        options: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": propagation,
        }
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if any(preconditions.values()):
            options["preconditions"] = {k: v for k, v in preconditions.items() if v}
        try:
            await self.request("DELETE", path, body=options)
        except KubeError as err:
            if err.not_found:
                return False
            raise
        return True
