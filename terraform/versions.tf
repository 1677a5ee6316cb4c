terraform {
  required_version = ">= 1.5"

  required_providers {
    kubernetes = {
      source = "hashicorp/kubernetes"
      # Exact pin: the provider is built from source into a filesystem mirror
      # (hack/build-toolchain.sh) and .terraform.lock.hcl holds that build's hash.
      version = "= 3.2.1"
    }
  }

  # Partial configuration: the operator passes secret_suffix (one state per
  # release), namespace and config_path / in_cluster_config at `terraform init`.
  backend "kubernetes" {}
}

# Kept minimal on purpose. With kubeconfig_path null the provider reads
# KUBE_CONFIG_PATH from the environment, and without it the in-cluster
# service-account credentials, so the same module runs on a laptop and in a pod.
provider "kubernetes" {
  config_path = var.kubeconfig_path
}
