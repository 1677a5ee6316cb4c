output "namespace" {
  description = "Namespace of the Services."
  value       = local.namespace
}

output "stable_service_name" {
  description = "Name of the stable Service."
  value       = kubernetes_service_v1.stable.metadata[0].name
}

output "preview_service_name" {
  description = "Name of the preview Service."
  value       = kubernetes_service_v1.preview.metadata[0].name
}

output "stable_cluster_ip" {
  description = "Cluster IP of the stable Service."
  value       = kubernetes_service_v1.stable.spec[0].cluster_ip
}

output "preview_cluster_ip" {
  description = "Cluster IP of the preview Service."
  value       = kubernetes_service_v1.preview.spec[0].cluster_ip
}
