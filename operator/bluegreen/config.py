"""Operator settings from flags and environment variables (flags win)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bluegreen.adapters.check_targets import parse_allowed_hosts
from bluegreen.adapters.prometheus import check_url
from bluegreen.api.v1alpha1 import OPERATOR_NAME
from bluegreen.core.leadership import LeaseTimings
from bluegreen.core.notifications import webhook_problem


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...]
    """Namespaces to watch; empty means the whole cluster."""
    metrics_port: int
    liveness_port: int
    infrastructure: str
    """``terraform`` (default) or ``kubernetes``."""
    terraform_module_dir: Path
    terraform_work_dir: Path
    state_namespace: str
    drift_interval_seconds: float
    terraform_timeout_seconds: float
    kubeconfig: str | None
    verbose: bool = False
    check_allowed_hosts: tuple[str, ...] = ()
    """Hosts, IPs and CIDRs an explicit ``http.url`` of a check may name; empty: none."""
    switch_timeout_seconds: float = 120
    """How long a switch may take to show in EndpointSlices before it is undone."""
    leader_elect: bool = False
    """Act only while holding the Lease (several replicas); off: act alone, at once."""
    leader_election_namespace: str = "bluegreen-system"
    leader_election_id: str = "bluegreen-operator"
    """The Lease's name; replicas with the same name elect one leader among them."""
    lease_timings: LeaseTimings = field(default_factory=LeaseTimings)
    shards: int = 1
    """Replica groups the releases are split over by namespace (``core.sharding``)."""
    shard_index: int = 0
    """This process's shard: it acts only on namespaces that hash to it."""
    prometheus_url: str | None = None
    """Where metric checks send their queries; None: they find no Prometheus."""
    log_format: str = "text"
    """``text`` or ``json`` (one object per line, for log pipelines)."""
    notify_webhooks: tuple[str, ...] = ()
    """Webhooks told of every release's phase changes."""
    notify_format: str = "json"
    """``json`` or ``slack``, for ``notify_webhooks``."""
    notify_allowed_hosts: tuple[str, ...] = ()
    """Hosts, IPs and CIDRs a release's own webhook (annotation) may name; empty: none."""


def _default_module_dir() -> Path:
    bundled = Path("/opt/bluegreen/terraform")
    source_tree = Path(__file__).resolve().parents[2] / "terraform"
    return bundled if bundled.is_dir() else source_tree


def parse_config(argv: list[str] | None = None) -> OperatorConfig:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog=OPERATOR_NAME, description="Blue/green releases for Kubernetes."
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[n for n in env.get("BLUEGREEN_NAMESPACES", "").split(",") if n],
        help="namespace to watch (repeatable; env BLUEGREEN_NAMESPACES, comma-separated); "
        "default: all namespaces",
    )
    parser.add_argument(
        "--metrics-port", type=int, default=int(env.get("BLUEGREEN_METRICS_PORT", "9090"))
    )
    parser.add_argument(
        "--liveness-port", type=int, default=int(env.get("BLUEGREEN_LIVENESS_PORT", "8080"))
    )
    parser.add_argument(
        "--infrastructure",
        choices=("terraform", "kubernetes"),
        default=env.get("BLUEGREEN_INFRASTRUCTURE", "terraform"),
        help="who creates the Services: the bundled Terraform module, or plain API calls",
    )
    parser.add_argument(
        "--terraform-module-dir",
        type=Path,
        default=Path(env.get("BLUEGREEN_TERRAFORM_MODULE_DIR", str(_default_module_dir()))),
    )
    parser.add_argument(
        "--terraform-work-dir",
        type=Path,
        default=Path(env.get("BLUEGREEN_TERRAFORM_WORKDIR", "/tmp/bluegreen-tf")),
    )
    parser.add_argument(
        "--state-namespace", default=env.get("BLUEGREEN_STATE_NAMESPACE", "bluegreen-system")
    )
    parser.add_argument(
        "--drift-interval",
        type=float,
        default=float(env.get("BLUEGREEN_DRIFT_INTERVAL", "300")),
        help="seconds between drift checks of idle releases; 0 disables them",
    )
    parser.add_argument(
        "--terraform-timeout",
        type=float,
        default=float(env.get("BLUEGREEN_TERRAFORM_TIMEOUT", "300")),
    )
    parser.add_argument("--kubeconfig", default=env.get("KUBECONFIG") or None)
    parser.add_argument(
        "--check-allowed-hosts",
        type=_allowed_hosts,
        default=env.get("BLUEGREEN_CHECK_ALLOWED_HOSTS", ""),
        help="comma-separated hostnames, IPs and CIDRs that a check's explicit http.url may "
        "name (env BLUEGREEN_CHECK_ALLOWED_HOSTS); default: none, checks reach only the "
        "release's own Services",
    )
    parser.add_argument(
        "--switch-timeout",
        type=float,
        default=float(env.get("BLUEGREEN_SWITCH_TIMEOUT", "120")),
        help="seconds a selector switch may take to show in EndpointSlices; past it a "
        "forward switch goes back to the held revision",
    )
    parser.add_argument(
        "--prometheus-url",
        type=_prometheus_url,
        default=env.get("BLUEGREEN_PROMETHEUS_URL") or None,
        help="base URL of the Prometheus that metric checks query, e.g. "
        "http://prometheus.monitoring:9090 (env BLUEGREEN_PROMETHEUS_URL); default: none, "
        "metric checks are inconclusive",
    )
    _leader_election_flags(parser, env)
    parser.add_argument("--verbose", action="store_true", help="log every handled watch event")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=env.get("BLUEGREEN_LOG_FORMAT", "text"),
        help="text, or json: one object per line (env BLUEGREEN_LOG_FORMAT)",
    )
    _notification_flags(parser, env)
    args = parser.parse_args(argv)
    timings = LeaseTimings(args.lease_duration, args.renew_deadline, args.retry_period)
    if problem := timings.problem():
        parser.error(problem)
    if args.shards < 1 or not 0 <= args.shard_index < args.shards:
        parser.error(f"--shard-index must be within 0..{args.shards - 1} and --shards at least 1")
    for url in args.notify_webhook:
        if (problem := webhook_problem(url)) is not None:
            parser.error(f"--notify-webhook {url!r}: {problem}")
    if args.shards > 1 and not args.leader_elect:
        parser.error("--shards above 1 needs --leader-elect: each shard is fenced by its Lease")
    return OperatorConfig(
        namespaces=tuple(args.namespace),
        metrics_port=args.metrics_port,
        liveness_port=args.liveness_port,
        infrastructure=args.infrastructure,
        terraform_module_dir=args.terraform_module_dir,
        terraform_work_dir=args.terraform_work_dir,
        state_namespace=args.state_namespace,
        drift_interval_seconds=args.drift_interval,
        terraform_timeout_seconds=args.terraform_timeout,
        kubeconfig=args.kubeconfig,
        verbose=args.verbose,
        check_allowed_hosts=args.check_allowed_hosts,
        switch_timeout_seconds=args.switch_timeout,
        leader_elect=args.leader_elect,
        leader_election_namespace=args.leader_election_namespace or args.state_namespace,
        leader_election_id=args.leader_election_id,
        lease_timings=timings,
        shards=args.shards,
        shard_index=args.shard_index,
        prometheus_url=args.prometheus_url,
        log_format=args.log_format,
        notify_webhooks=tuple(args.notify_webhook),
        notify_format=args.notify_format,
        notify_allowed_hosts=args.notify_allowed_hosts,
    )


def _leader_election_flags(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    defaults = LeaseTimings()
    parser.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=env.get("BLUEGREEN_LEADER_ELECT", "").lower() in ("1", "true", "yes"),
        help="act only while holding a Lease, so that several replicas can run "
        "(env BLUEGREEN_LEADER_ELECT); default off: this process acts alone",
    )
    parser.add_argument(
        "--leader-election-namespace",
        default=env.get("BLUEGREEN_LEADER_ELECTION_NAMESPACE", ""),
        help="namespace of the Lease; default: the state namespace",
    )
    parser.add_argument(
        "--leader-election-id",
        default=env.get("BLUEGREEN_LEADER_ELECTION_ID", "bluegreen-operator"),
        help="name of the Lease",
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=int(env.get("BLUEGREEN_SHARDS", "1")),
        help="split the releases over this many shards by a hash of their namespace, each "
        "with its own Lease (env BLUEGREEN_SHARDS; needs --leader-elect when above 1)",
    )
    parser.add_argument(
        "--shard-index",
        type=int,
        default=int(env.get("BLUEGREEN_SHARD_INDEX", "0")),
        help="this replica's shard, from 0 to --shards minus 1 (env BLUEGREEN_SHARD_INDEX)",
    )
    for flag, default, text in (
        ("--lease-duration", defaults.lease_duration, "a silent leader's Lease is taken over"),
        ("--renew-deadline", defaults.renew_deadline, "a leader stops acting without renewal"),
        ("--retry-period", defaults.retry_period, "between acquire and renew attempts"),
    ):
        parser.add_argument(flag, type=float, default=default, help=f"seconds after which {text}")


def _prometheus_url(text: str) -> str:
    try:
        return check_url(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _allowed_hosts(text: str) -> tuple[str, ...]:
    """Split and validate now: a typo must stop the start, not silently allow nothing."""
    entries = tuple(e.strip() for e in text.split(",") if e.strip())
    try:
        parse_allowed_hosts(entries)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return entries


def _notification_flags(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    parser.add_argument(
        "--notify-webhook",
        action="append",
        default=[u for u in env.get("BLUEGREEN_NOTIFY_WEBHOOKS", "").split(",") if u],
        help="URL told of every release's phase changes (repeatable; env "
        "BLUEGREEN_NOTIFY_WEBHOOKS, comma-separated)",
    )
    parser.add_argument(
        "--notify-format",
        choices=("json", "slack"),
        default=env.get("BLUEGREEN_NOTIFY_FORMAT", "json"),
        help='body of --notify-webhook requests: json, or slack ({"text": ...}) '
        "(env BLUEGREEN_NOTIFY_FORMAT)",
    )
    parser.add_argument(
        "--notify-allowed-hosts",
        type=_allowed_hosts,
        default=env.get("BLUEGREEN_NOTIFY_ALLOWED_HOSTS", ""),
        help="comma-separated hostnames (exact), IPs and CIDRs a release's own webhook "
        "(annotation bluegreen.dev/notify-webhook) may name (env "
        "BLUEGREEN_NOTIFY_ALLOWED_HOSTS); default: none, such annotations are ignored",
    )
