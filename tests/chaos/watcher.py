"""DESIGN.md's invariants, checked on every change the API server reports.

One thread per resource kind watches the namespace (Services, EndpointSlices,
Deployments, releases) and keeps the latest object of each name. Every event
re-checks the invariants against that picture; a watch sees every change,
where a polling sampler would miss a brief violation between two samples.
A broken watch (API server or etcd restarted) lists again and resumes.

Watches of different kinds are not ordered with each other: a Service event
can arrive before the Deployment event that happened earlier. So a breach
seen in the cached picture is confirmed with a fresh read before it counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

REVISION = "bluegreen.dev/revision"
GROUP, VERSION, PLURAL = "bluegreen.dev", "v1alpha1", "bluegreenreleases"
WATCH_SECONDS = 30


class InvariantWatcher:
    def __init__(self, api: client.ApiClient, namespace: str, service: str) -> None:
        self.api, self.ns, self.service = api, namespace, service
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.discovery = client.DiscoveryV1Api(api)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.services: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.releases: dict[str, dict[str, Any]] = {}
        self.slices: dict[str, dict[str, Any]] = {}
        self.violations: list[str] = []
        self.selected: list[str] = []
        """Every revision the stable Service selected, in order."""
        self.selected_at: list[float] = []
        """When the watch reported each of ``selected`` (monotonic seconds)."""
        self.phases: list[str] = []
        """Every phase the release went through, in order."""
        self.events = 0
        self.threads = [
            threading.Thread(target=self._watch, args=(kind,), daemon=True)
            for kind in ("services", "deployments", "releases", "slices")
        ]

    def start(self) -> InvariantWatcher:
        for thread in self.threads:
            thread.start()
        return self

    def close(self) -> list[str]:
        """Stop and return what was seen; later events are no longer checked."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=1)  # daemons: a watch still open ends with the process
        return list(self.violations)

    # -- watching

    def _lister(self, kind: str) -> tuple[Callable[..., Any], dict[str, Any]]:
        if kind == "services":
            return self.core.list_namespaced_service, self.services
        if kind == "deployments":
            return self.apps.list_namespaced_deployment, self.deployments
        if kind == "slices":
            return self.discovery.list_namespaced_endpoint_slice, self.slices
        return self._list_releases, self.releases

    def _list_releases(self, namespace: str, **kwargs: Any) -> Any:
        return self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, **kwargs
        )

    def _watch(self, kind: str) -> None:
        lister, cache = self._lister(kind)
        while not self.stop.is_set():
            try:
                stream = watch.Watch().stream(
                    lister,
                    self.ns,
                    timeout_seconds=WATCH_SECONDS,
                    _request_timeout=WATCH_SECONDS + 5,
                )
                for event in stream:
                    obj = event["object"]
                    body = (
                        obj if isinstance(obj, dict) else self.api.sanitize_for_serialization(obj)
                    )
                    name = body["metadata"]["name"]
                    if self.stop.is_set():
                        break
                    with self.lock:
                        self.events += 1
                        if event["type"] == "DELETED":
                            self._deleted(kind, body)
                            cache.pop(name, None)
                        else:
                            cache[name] = body
                            self._changed(kind, body)
                    if self.stop.is_set():
                        break
            except (ApiException, HTTPError, OSError, ValueError):
                # The API server went away (a fault under test): list again shortly.
                self.stop.wait(0.5)

    # -- the invariants

    def _changed(self, kind: str, body: dict[str, Any]) -> None:
        if kind == "services" and body["metadata"]["name"] == self.service:
            self._check_selector(body)
        elif kind == "deployments" and body["metadata"].get("deletionTimestamp"):
            self._deleted("deployments", body)
        elif kind == "releases":
            phase = str((body.get("status") or {}).get("phase") or "")
            if phase and (not self.phases or self.phases[-1] != phase):
                self.phases.append(phase)
            self._check_ready_claim(body)

    def _deleted(self, kind: str, body: dict[str, Any]) -> None:
        if kind == "services" and body["metadata"]["name"] == self.service and self.selected:
            self.violations.append(f"stable Service {self.service} deleted after serving")
        if kind != "deployments":
            return
        revision = (body["metadata"].get("labels") or {}).get(REVISION)
        if revision and revision == self._selected_now():
            fresh = self._fresh_service()
            if fresh is not None and (fresh.spec.selector or {}).get(REVISION) == revision:
                self.violations.append(f"Deployment of {revision} deleted while selected")

    def _selected_now(self) -> str | None:
        svc = self.services.get(self.service)
        return ((svc or {}).get("spec", {}).get("selector") or {}).get(REVISION)

    def _check_selector(self, svc: dict[str, Any]) -> None:
        revision = (svc.get("spec", {}).get("selector") or {}).get(REVISION)
        if not revision:
            if self.selected:
                self.violations.append("stable Service selects no revision after serving")
            return
        if self.selected and self.selected[-1] == revision:
            return
        self.selected.append(revision)
        self.selected_at.append(time.monotonic())
        if not self._revision_ready(revision):
            self.violations.append(f"switched to {revision}, which was not fully ready")

    def _revision_ready(self, revision: str) -> bool:
        found = [
            d
            for d in self.deployments.values()
            if (d["metadata"].get("labels") or {}).get(REVISION) == revision
        ]
        if found and _fully_ready(found[0]):
            return True
        # Not in the picture yet: the Deployment's own event may be late. Ask.
        fresh = self.apps.list_namespaced_deployment(
            self.ns, label_selector=f"{REVISION}={revision}"
        )
        return any(_fully_ready(self.api.sanitize_for_serialization(d)) for d in fresh.items)

    def _check_ready_claim(self, release: dict[str, Any]) -> None:
        status = release.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        active = (status.get("active") or {}).get("revision")
        if not ready or ready[0].get("status") != "True" or not active:
            return
        if self._selected_now() == active:
            return
        fresh = self._fresh_service()
        selected = (fresh.spec.selector or {}).get(REVISION) if fresh is not None else None
        if selected != active:
            self.violations.append(
                f"Ready=True for {active} while the stable Service selects {selected}"
            )

    def _fresh_service(self) -> Any:
        try:
            return self.core.read_namespaced_service(self.service, self.ns)
        except ApiException:
            return None


def _fully_ready(deployment: dict[str, Any]) -> bool:
    if deployment["metadata"].get("deletionTimestamp"):
        return False
    wanted = int((deployment.get("spec") or {}).get("replicas") or 0)
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    return ready >= max(wanted, 1)


def wait_until(what: str, probe: Callable[[], bool], timeout: float) -> None:
    """Block until ``probe`` holds (it reads the watcher's picture); fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
