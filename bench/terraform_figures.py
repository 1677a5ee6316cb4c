"""Times the Terraform adapter on the local cluster and writes terraform/FIGURES.md.

    eval "$(hack/toolchain-env.sh)" && hack/cluster-up.sh
    .venv/bin/python bench/terraform_figures.py [--runs 5]

Not a test: figures, not pass/fail. Each figure is the median of ``--runs``
runs, wall clock, as the operator sees them (asyncio subprocesses, as in the operator).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from bluegreen.adapters.kube_rest import KubeRest, make_api_client
from bluegreen.adapters.terraform import TerraformInfrastructure
from bluegreen.adapters.terraform.cluster import KubeTerraformCluster
from bluegreen.core.infrastructure import InfrastructureInputs

REPO = Path(__file__).resolve().parents[1]


def toolchain_env() -> dict[str, str]:
    script = f'eval "$({REPO}/hack/toolchain-env.sh)" && env -0'
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


async def timed(step: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await step()
    return time.perf_counter() - start


def inputs(name: str) -> InfrastructureInputs:
    return InfrastructureInputs(
        release=name,
        release_namespace=name,
        namespace=name,
        create_namespace=True,
        service_name="shop",
        service_type="ClusterIP",
        service_port=80,
        target_port=5000,
        preview_service_name="shop-preview",
    )


async def measure(
    infra: TerraformInfrastructure, work_root: Path, runs: int
) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {
        "first": [],
        "nochange": [],
        "nochange_init": [],
        "drift": [],
        "destroy": [],
    }
    for _ in range(runs):
        release = inputs(f"fig-{uuid.uuid4().hex[:6]}")
        figures["first"].append(await timed(lambda r=release: infra.apply(r)))
        figures["nochange"].append(await timed(lambda r=release: infra.apply(r)))
        # What skipping init saves: the same run after an operator restart
        # on an empty work volume would re-init.
        (work_root / release.state_key() / ".init-fingerprint").unlink()
        figures["nochange_init"].append(await timed(lambda r=release: infra.apply(r)))
        figures["drift"].append(await timed(lambda r=release: infra.detect_drift(r)))
        figures["destroy"].append(await timed(lambda r=release: infra.destroy(r)))
    # One more change to time an apply that changes a port, init cached.
    release = inputs(f"fig-{uuid.uuid4().hex[:6]}")
    await infra.apply(release)
    figures["change"] = [
        await timed(lambda p=port: infra.apply(dataclasses.replace(release, service_port=p)))
        for port in range(81, 81 + runs)
    ]
    await infra.destroy(release)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kubeconfig", default=str(REPO / ".cluster" / "kubeconfig"))
    args = parser.parse_args()

    env = toolchain_env()
    os.environ.update(PATH=env["PATH"], TF_CLI_CONFIG_FILE=env["TF_CLI_CONFIG_FILE"])
    terraform = shutil.which("terraform")
    assert terraform is not None
    api = config.new_client_from_config(config_file=args.kubeconfig)
    try:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "bluegreen-system"}})
    except ApiException as err:
        if err.status != 409:
            raise

    async def measure_with_a_client(work_root: Path) -> dict[str, list[float]]:
        # The adapter's own Kubernetes calls go through the operator's async client,
        # which lives on the loop that runs the measurement.
        api_client = await make_api_client(args.kubeconfig)
        try:
            infra = TerraformInfrastructure(
                REPO / "terraform",
                work_root,
                cluster=KubeTerraformCluster(KubeRest(api_client), "bluegreen-system"),
                kubeconfig=Path(args.kubeconfig),
                terraform_bin=terraform,
            )
            return await measure(infra, work_root, args.runs)
        finally:
            await api_client.close()

    with tempfile.TemporaryDirectory() as work_root:
        figures = asyncio.run(measure_with_a_client(Path(work_root)))

    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    version = subprocess.run(
        [terraform, "version"], check=True, capture_output=True, text=True
    ).stdout
    rows = [
        ("first apply (new release: init, plan, apply, outputs)", "first"),
        ("no-change apply (plan exit 0, no apply; init cached)", "nochange"),
        ("no-change apply with init (init not cached)", "nochange_init"),
        ("drift check (plan, no lock, no apply)", "drift"),
        ("apply changing a port (init cached)", "change"),
        ("destroy (both Services and the namespace, until it is gone)", "destroy"),
    ]
    lines = [
        "# Terraform adapter figures",
        "",
        "Measured by `bench/terraform_figures.py` on the local control plane",
        f"(`hack/cluster-up.sh`), {os.cpu_count()} CPU cores, {platform.system()}, "
        f"{version.splitlines()[0]}, hashicorp/kubernetes 3.2.1 from the filesystem mirror.",
        f"Median, min and max of {args.runs} runs, wall clock through "
        f"`TerraformInfrastructure`, in seconds (load average at the end: {load}).",
        "",
        "| operation | median | min | max |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        values = figures[key]
        lines.append(
            f"| {label} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
        )
    lines += [
        "",
        "Most of a no-change run is Terraform start-up, provider start-up and the",
        "refresh (a GET per object). `terraform init` is cheap here (the provider",
        "is symlinked from the filesystem mirror, not copied): skipping it when the",
        "release's directory is already initialized saves little, so a restart on",
        "an empty work volume costs almost nothing. The machine was shared with",
        "other local clusters and builds (see the load average): expect lower",
        "figures on an idle one.",
        "Destroy is dominated by the namespace controller finalizing the namespace",
        "(the provider waits until it is gone).",
        "",
    ]
    (REPO / "terraform" / "FIGURES.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
