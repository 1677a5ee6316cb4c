"""Operator settings from flags and environment variables (flags win)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path


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


def _default_module_dir() -> Path:
    bundled = Path("/opt/bluegreen/terraform")
    source_tree = Path(__file__).resolve().parents[2] / "terraform"
    return bundled if bundled.is_dir() else source_tree


def parse_config(argv: list[str] | None = None) -> OperatorConfig:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="bluegreen-operator", description="Blue/green releases for Kubernetes."
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
    parser.add_argument("--verbose", action="store_true", help="log every handled watch event")
    args = parser.parse_args(argv)
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
    )
