locals {
  # Applied last so a release cannot relabel objects away from the operator.
  labels = merge(var.labels, {
    "app.kubernetes.io/managed-by" = "bluegreen-operator"
    "bluegreen.dev/release"        = var.release_name
  })

  # Referencing the namespace resource (when we own it) orders creation before
  # the Services and deletion after them.
  namespace = var.create_namespace ? kubernetes_namespace_v1.this[0].metadata[0].name : var.namespace
}

resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name   = var.namespace
    labels = local.labels
  }
}

# The stable Service starts selecting nothing: no traffic reaches a revision
# before the operator has proven it ready and switched the selector to it.
resource "kubernetes_service_v1" "stable" {
  metadata {
    name      = var.service_name
    namespace = local.namespace
    labels    = merge(local.labels, { "bluegreen.dev/role" = "stable" })
  }

  spec {
    type = var.service_type

    port {
      name        = "http"
      protocol    = "TCP"
      port        = var.service_port
      target_port = var.target_port
    }
  }

  # A LoadBalancer may never get an address (e.g. no cloud controller); the
  # operator must not block on it.
  wait_for_load_balancer = false

  lifecycle {
    # The selector belongs to the operator (the blue/green switch). Without this
    # every apply would revert the switch and cut traffic.
    ignore_changes = [spec[0].selector]
  }
}

# The preview Service always selects the candidate revision; the operator sets
# its selector, so Terraform ignores it too.
resource "kubernetes_service_v1" "preview" {
  metadata {
    name      = var.preview_service_name
    namespace = local.namespace
    labels    = merge(local.labels, { "bluegreen.dev/role" = "preview" })
  }

  spec {
    type = var.service_type

    port {
      name        = "http"
      protocol    = "TCP"
      port        = var.service_port
      target_port = var.target_port
    }
  }

  wait_for_load_balancer = false

  lifecycle {
    ignore_changes = [spec[0].selector]
  }
}
