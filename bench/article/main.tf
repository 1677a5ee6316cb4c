# The blue/green article's manual flow, as one Terraform configuration applied
# four times (bench/article_flow.py):
#   1. v1_enabled=true  v2_enabled=false live=v1   the app's v1 behind a NodePort
#   2. v1_enabled=true  v2_enabled=true  live=v1   add v2 beside it
#   3. v1_enabled=true  v2_enabled=true  live=v2   move the Service's selector to v2
#   4. v1_enabled=false v2_enabled=true  live=v2   remove v1
# The pods run the project's demo app image on the local real node.

terraform {
  required_version = ">= 1.5"

  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "= 3.2.1"
    }
  }
}

variable "kubeconfig_path" {
  description = "Kubeconfig of the cluster."
  type        = string
}

variable "namespace" {
  description = "Namespace the configuration creates and fills."
  type        = string
  default     = "spacelift-bench"
}

variable "v1_enabled" {
  description = "Whether Deployment spacelift-app-v1 exists."
  type        = bool
}

variable "v2_enabled" {
  description = "Whether Deployment spacelift-app-v2 exists."
  type        = bool
}

variable "live" {
  description = "The version the Service selects: v1 or v2."
  type        = string

  validation {
    condition     = contains(["v1", "v2"], var.live)
    error_message = "live must be v1 or v2."
  }
}

variable "replicas" {
  description = "Replicas of each Deployment."
  type        = number
  default     = 3
}

provider "kubernetes" {
  config_path = var.kubeconfig_path
}

locals {
  versions = toset(concat(var.v1_enabled ? ["v1"] : [], var.v2_enabled ? ["v2"] : []))
  # The local cluster's real node is tainted so that only pods meant for it land there.
  node_label = "bluegreen.dev/real-node"
}

resource "kubernetes_namespace_v1" "app" {
  metadata {
    name = var.namespace
  }
}

resource "kubernetes_deployment_v1" "app" {
  for_each = local.versions

  metadata {
    name      = "spacelift-app-${each.key}"
    namespace = kubernetes_namespace_v1.app.metadata[0].name
    labels    = { app = "spacelift-app-${each.key}" }
  }

  spec {
    replicas = var.replicas

    selector {
      match_labels = { app = "spacelift-app-${each.key}" }
    }

    template {
      metadata {
        labels = { app = "spacelift-app-${each.key}" }
      }

      spec {
        node_selector                    = { (local.node_label) = "true" }
        dns_policy                       = "Default"
        termination_grace_period_seconds = 5

        toleration {
          key      = local.node_label
          operator = "Exists"
          effect   = "NoSchedule"
        }

        container {
          name              = "app"
          image             = "spacelift-app:${each.key}"
          image_pull_policy = "Never"

          port {
            container_port = 5000
          }

          readiness_probe {
            http_get {
              path = "/healthz"
              port = 5000
            }
            period_seconds    = 1
            failure_threshold = 2
          }
        }
      }
    }
  }

  timeouts {
    create = "5m"
    update = "5m"
    delete = "5m"
  }
}

resource "kubernetes_service_v1" "app" {
  metadata {
    name      = "spacelift-app"
    namespace = kubernetes_namespace_v1.app.metadata[0].name
  }

  spec {
    type     = "NodePort"
    selector = { app = "spacelift-app-${var.live}" }

    port {
      port        = 80
      target_port = 5000
      protocol    = "TCP"
    }
  }
}

output "node_port" {
  value = kubernetes_service_v1.app.spec[0].port[0].node_port
}
