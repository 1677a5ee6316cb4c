"""Operator start-up and shutdown: kopf settings and the clients in memo."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import kopf

from bluegreen.adapters.caches import CACHED_KINDS, Caches
from bluegreen.adapters.check_targets import CheckPolicy, parse_allowed_hosts
from bluegreen.adapters.fenced_infrastructure import FencedInfrastructure
from bluegreen.adapters.http_checks import HttpChecker, own_addresses
from bluegreen.adapters.infrastructure import Infrastructure
from bluegreen.adapters.kube import Kube
from bluegreen.adapters.kube_infrastructure import KubeInfrastructure
from bluegreen.adapters.kube_rest import KubeRest, make_api_client, user_agent
from bluegreen.adapters.leader_election import Fence
from bluegreen.adapters.metrics import Metrics
from bluegreen.adapters.prometheus import Prometheus
from bluegreen.adapters.webhooks import WebhookNotifier
from bluegreen.api.notifications import NotifyFormat
from bluegreen.api.v1alpha1 import FIELD_MANAGER, STORAGE_PREFIX
from bluegreen.config import OperatorConfig
from bluegreen.core.notifications import Webhook
from bluegreen.core.sharding import finalizer_for
from bluegreen.handlers.deps import Dependencies
from bluegreen.handlers.loops import ReleaseLoops
from bluegreen.handlers.shard import owns
from bluegreen.handlers.wakeups import Wakeups, wake_on_change
from bluegreen.reconciler import Reconciler, ReconcilerSettings
from bluegreen.reconciler.execute import Executor
from bluegreen.reconciler.observe import CacheObserver

URGENT_CONNECTIONS = 16
"""Connections of the lane that moves traffic (the read before a switch, the patch)."""


@kopf.on.startup()
async def configure(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    # Storage names are fixed from day one: changing them later re-runs handlers.
    config: OperatorConfig = memo["config"]
    settings.persistence.finalizer = finalizer_for(config.shard_index)
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=STORAGE_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.reporting_component = FIELD_MANAGER
    settings.posting.enabled = False  # our Events carry stable reasons; kopf's log lines don't
    settings.peering.standalone = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # An API server coming back from a restart may accept a connection and then
    # answer nothing for minutes; fail such requests quickly and let kopf retry,
    # instead of waiting out aiohttp's five-minute default.
    settings.watching.connect_timeout = 10
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 30
    metrics: Metrics = memo["metrics"]
    if config.namespaces:
        # kopf stops watching a namespace once it is marked for deletion without a
        # blocking condition, which the namespace controller shows for a moment
        # before it reports our finalizer: the releases there would then never be
        # finalized and the namespace never go. Watch the given namespaces, always.
        settings.scanning.disabled = True
    fence: Fence = memo["fence"]
    # Every write of this replica consults the Lease: a deposed or paused leader's
    # writes never leave the process (see adapters/leader_election.py).
    rest = KubeRest(
        await make_api_client(config.kubeconfig),
        may_write=lambda: fence.leading,
        on_response=metrics.count_request,
    )
    agent = user_agent(config.shard_index, config.shards)
    rest.api.user_agent = agent
    wakeups = Wakeups()
    # Every replica keeps its caches warm, leader or not: a new leader acts at once.
    scopes = max(len(config.namespaces), 1)
    watching = KubeRest(
        await make_api_client(config.kubeconfig, connections=len(CACHED_KINDS) * scopes),
        may_write=lambda: False,
        on_response=metrics.count_request,
    )
    watching.api.user_agent = agent
    caches = Caches(watching, config.namespaces, keep=lambda namespace: owns(config, namespace))
    urgent = KubeRest(
        # Candidates of many releases become available in bursts (a GitOps sync of
        # many apps): each switch is two requests here, and with 4 connections a
        # burst of 100 queued for 10 s (the traced scale run, 300 releases).
        await make_api_client(config.kubeconfig, connections=URGENT_CONNECTIONS),
        may_write=lambda: fence.leading,
        on_response=metrics.count_request,
    )
    urgent.api.user_agent = agent
    kube = Kube(rest, caches, urgent)
    kube.events.start()
    session = aiohttp.ClientSession()
    infrastructure = FencedInfrastructure(_infrastructure(config, kube), lambda: fence.leading)
    kind = "Terraform" if config.infrastructure == "terraform" else "Infrastructure"
    checker = HttpChecker(await _check_policy(config))
    prometheus = Prometheus(config.prometheus_url)
    executor = Executor(kube, infrastructure, checker, metrics, kind, prometheus)
    observer = CacheObserver(kube, caches)
    notifier = _notifier(config, session)
    memo["notifier"] = notifier
    reconciler = Reconciler(
        kube,
        observer,
        executor,
        metrics,
        ReconcilerSettings(
            drift_interval_seconds=config.drift_interval_seconds,
            switch_timeout_seconds=config.switch_timeout_seconds,
        ),
        notify=notifier.notify,
        news=lambda namespace, name: wakeups.signals.get((namespace, name)),
    )
    loops = ReleaseLoops(caches, reconciler, wakeups)
    caches.notify(wake_on_change(wakeups, reconciler.is_own_write, loops.changed))
    caches.all.start()
    loops.start()
    memo["deps"] = Dependencies(kube, caches, observer, reconciler, wakeups, session, loops)
    # Everything imported so far lives as long as the process: keep it out of the
    # collector's full passes, which otherwise stall the event loop for 100+ ms.
    gc.freeze()
    logger.info("bluegreen-operator started (infrastructure: %s)", config.infrastructure)


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf keeps the last handled spec to diff it for update handlers, writing it to
    the release on every spec change; we have none (a daemon reads the spec itself,
    and deletion is detected from deletionTimestamp), so nothing is kept or written."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None
    ) -> kopf.BodyEssence:
        # kopf deep-copies the whole release to build an essence at every event of it,
        # only to diff it with the one fetched; with nothing fetched, none is needed.
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def _notifier(config: OperatorConfig, session: aiohttp.ClientSession) -> WebhookNotifier:
    form = NotifyFormat(config.notify_format)
    notifier = WebhookNotifier(
        session,
        webhooks=tuple(Webhook(url, form) for url in config.notify_webhooks),
        allowed=parse_allowed_hosts(config.notify_allowed_hosts),
    )
    notifier.start()
    return notifier


async def _check_policy(config: OperatorConfig) -> CheckPolicy:
    """What checks may reach: allowed hosts from the flags; never our own ports."""
    return CheckPolicy(
        allowed=parse_allowed_hosts(config.check_allowed_hosts),
        own_ports=frozenset({config.metrics_port, config.liveness_port}),
        own_addresses=await own_addresses(),
    )


def _infrastructure(config: OperatorConfig, kube: Kube) -> Infrastructure:
    if config.infrastructure == "kubernetes":
        return KubeInfrastructure(kube)
    from bluegreen.adapters.terraform import TerraformInfrastructure
    from bluegreen.adapters.terraform.cluster import KubeTerraformCluster

    return TerraformInfrastructure(
        config.terraform_module_dir,
        config.terraform_work_dir,
        # State Secrets (legacy-key migration) and the release's Services (ownership
        # before import) are read and written through the operator's own client.
        cluster=KubeTerraformCluster(kube.rest, config.state_namespace),
        state_namespace=config.state_namespace,
        kubeconfig=Path(config.kubeconfig) if config.kubeconfig else None,
        timeout_seconds=config.terraform_timeout_seconds,
    )


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    notifier: WebhookNotifier | None = memo.get("notifier")
    if notifier is not None:
        await notifier.stop()  # what is queued goes out before the session closes
    deps: Dependencies | None = memo.get("deps")
    if deps is not None:
        await deps.close()
