"""Terraform, offline, against the local cluster: the toolchain the operator uses.

The Terraform CLI and the hashicorp/kubernetes provider come from the
toolchain's filesystem mirror (TF_CLI_CONFIG_FILE); state lives in the
cluster through the `kubernetes` backend, which locks with a Lease.
"""

from __future__ import annotations

import base64
import gzip
import json
import pathlib
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = [pytest.mark.cluster, pytest.mark.terraform]

MAIN_TF = """
terraform {
  required_providers {
    kubernetes = { source = "hashicorp/kubernetes" }
  }
  backend "kubernetes" {}
}

variable "namespace" { type = string }
variable "kubeconfig" { type = string }

provider "kubernetes" {
  config_path = var.kubeconfig
}

resource "kubernetes_service_v1" "web" {
  metadata {
    name      = "tf-web"
    namespace = var.namespace
    labels    = { "app.kubernetes.io/managed-by" = "terraform" }
  }
  spec {
    selector = { app = "web" }
    port {
      port        = 80
      target_port = 5000
    }
  }
}

output "cluster_ip" { value = kubernetes_service_v1.web.spec[0].cluster_ip }
"""


def terraform(
    workdir: pathlib.Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["terraform", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_terraform_kubernetes_backend_creates_and_destroys_a_service_offline(
    api_client: Any,
    cluster: Any,
    namespace: str,
    tmp_path: pathlib.Path,
    wait_until: Callable[..., Any],
) -> None:
    core = client.CoreV1Api(api_client)
    coordination = client.CoordinationV1Api(api_client)
    suffix = f"bg{uuid.uuid4().hex[:8]}"
    secret_name = f"tfstate-default-{suffix}"
    lease_name = f"lock-tfstate-default-{suffix}"

    env = dict(cluster.env)
    # Offline: only the toolchain's filesystem mirror may provide plugins.
    assert pathlib.Path(env["TF_CLI_CONFIG_FILE"]).is_file()
    env["TF_VAR_namespace"] = namespace
    env["TF_VAR_kubeconfig"] = str(cluster.kubeconfig)
    (tmp_path / "main.tf").write_text(MAIN_TF)

    init = terraform(
        tmp_path,
        env,
        "init",
        "-input=false",
        f"-backend-config=secret_suffix={suffix}",
        f"-backend-config=namespace={namespace}",
        f"-backend-config=config_path={cluster.kubeconfig}",
    )
    assert "Installing hashicorp/kubernetes" in init.stdout
    assert (tmp_path / ".terraform.lock.hcl").is_file()

    terraform(tmp_path, env, "apply", "-auto-approve", "-input=false", "-lock-timeout=30s")

    svc = core.read_namespaced_service("tf-web", namespace)
    assert svc.spec.selector == {"app": "web"}
    assert svc.metadata.labels["app.kubernetes.io/managed-by"] == "terraform"
    out = json.loads(terraform(tmp_path, env, "output", "-json").stdout)
    assert out["cluster_ip"]["value"] == svc.spec.cluster_ip

    # State is a Secret in the cluster, holding the gzipped state with our resource.
    secret = core.read_namespaced_secret(secret_name, namespace)
    state = json.loads(gzip.decompress(base64.b64decode(secret.data["tfstate"])))
    assert [r["type"] for r in state["resources"]] == ["kubernetes_service_v1"]

    # The lock is a Lease: apply took it and released it (holder cleared).
    lease = coordination.read_namespaced_lease(lease_name, namespace)
    assert lease.spec.holder_identity is None

    # While someone else holds the Lease, Terraform refuses to touch the state.
    lease.spec.holder_identity = "someone-else"
    lease.metadata.annotations = {
        "app.terraform.io/lock-info": json.dumps(
            {
                "ID": "someone-else",
                "Operation": "test",
                "Who": "pytest",
                "Version": "1.5.7",
                "Created": "2026-01-01T00:00:00Z",
                "Path": "",
                "Info": "",
            }
        )
    }
    coordination.replace_namespaced_lease(lease_name, namespace, lease)
    locked = terraform(tmp_path, env, "plan", "-input=false", "-lock-timeout=0s", check=False)
    assert locked.returncode != 0
    assert "Error acquiring the state lock" in locked.stderr + locked.stdout
    lease = coordination.read_namespaced_lease(lease_name, namespace)
    lease.spec.holder_identity = None
    lease.metadata.annotations = {}
    coordination.replace_namespaced_lease(lease_name, namespace, lease)

    # Re-plan is clean: the provider reads back exactly what it created.
    plan = terraform(tmp_path, env, "plan", "-input=false", "-detailed-exitcode", check=False)
    assert plan.returncode == 0, plan.stdout + plan.stderr

    terraform(tmp_path, env, "destroy", "-auto-approve", "-input=false", "-lock-timeout=30s")

    def service_gone() -> bool:
        try:
            core.read_namespaced_service("tf-web", namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until("the Service to be deleted by terraform destroy", service_gone, timeout=30)
    secret = core.read_namespaced_secret(secret_name, namespace)
    state = json.loads(gzip.decompress(base64.b64decode(secret.data["tfstate"])))
    assert state["resources"] == []
