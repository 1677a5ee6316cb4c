variable "release_name" {
  description = "Name of the BlueGreenRelease; stamped on every object as bluegreen.dev/release."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.release_name))
    error_message = "release_name must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "namespace" {
  description = "Namespace of the Services (the release's own)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "create_namespace" {
  description = "Create the namespace (and delete it on destroy). False when it already exists, e.g. because the release itself lives there."
  type        = bool
  default     = false
  nullable    = false
}

variable "service_name" {
  description = "Name of the stable Service users reach; the operator moves its selector between revisions."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.service_name))
    error_message = "service_name must be a DNS-1035 label (starts with a letter; lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "service_type" {
  description = "Type of both Services."
  type        = string
  default     = "ClusterIP"
  nullable    = false

  validation {
    condition     = contains(["ClusterIP", "NodePort", "LoadBalancer"], var.service_type)
    error_message = "service_type must be one of ClusterIP, NodePort or LoadBalancer."
  }
}

variable "service_port" {
  description = "Port both Services listen on."
  type        = number
  default     = 80
  nullable    = false

  validation {
    condition     = var.service_port >= 1 && var.service_port <= 65535 && floor(var.service_port) == var.service_port
    error_message = "service_port must be an integer between 1 and 65535."
  }
}

variable "target_port" {
  description = "Where the Services forward to: a container port number (\"5000\") or the name of a container port (\"http\")."
  type        = string
  nullable    = false

  validation {
    # try(): tonumber() fails on a name, and HCL evaluates both sides of ||.
    condition = (
      (can(regex("^[0-9]{1,5}$", var.target_port)) && try(tonumber(var.target_port) >= 1 && tonumber(var.target_port) <= 65535, false))
      || (length(var.target_port) <= 15 && can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", var.target_port)) && can(regex("[a-z]", var.target_port)))
    )
    error_message = "target_port must be a port number between 1 and 65535, or a port name (an IANA service name: 1-15 lowercase letters, digits and single hyphens, with at least one letter, not starting or ending with a hyphen)."
  }
}

variable "preview_service_name" {
  description = "Name of the preview Service; the operator points its selector at the candidate revision."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.preview_service_name))
    error_message = "preview_service_name must be a DNS-1035 label (starts with a letter; lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "labels" {
  description = "Extra labels for every object. The operator's own labels (managed-by, release) always win."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "kubeconfig_path" {
  description = "Kubeconfig for the provider. Null: KUBE_CONFIG_PATH from the environment, else in-cluster credentials. The operator never sets it from a release's spec."
  type        = string
  default     = null
}
