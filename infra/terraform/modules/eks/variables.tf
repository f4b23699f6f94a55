variable "cluster_name" {
  description = "EKS cluster name."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33."
  }
}

variable "vpc_id" {
  description = "VPC ID."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnet IDs for the control-plane ENIs and the node groups."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two AZs."
  }
}

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API publicly (restricted to public_access_cidrs). Off in prod."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint when endpoint_public_access is true."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.public_access_cidrs, "0.0.0.0/0")
    error_message = "The public API endpoint must not be open to 0.0.0.0/0."
  }
}

variable "secrets_kms_key_arn" {
  description = "KMS key ARN for Kubernetes secrets envelope encryption."
  type        = string
}

variable "ebs_kms_key_arn" {
  description = "KMS key ARN for node root volumes."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN for the control-plane log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of control-plane logs in days."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "log_retention_days must be at least 365."
  }
}

variable "oidc_thumbprint" {
  description = "SHA-1 thumbprint of the root CA of the EKS OIDC issuer (IAM no longer verifies it for EKS issuers, but the API requires one)."
  type        = string
  default     = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"

  validation {
    condition     = can(regex("^[0-9a-f]{40}$", var.oidc_thumbprint))
    error_message = "oidc_thumbprint must be 40 lowercase hex characters."
  }
}

variable "cluster_admin_role_arns" {
  description = "IAM role ARNs granted cluster-admin through EKS access entries (the creator gets no implicit admin)."
  type        = list(string)

  validation {
    condition     = alltrue([for a in var.cluster_admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "cluster_admin_role_arns must be IAM role ARNs."
  }
}

variable "cpu_node_group" {
  description = "CPU node group sizing (m6i class)."
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = number
  })

  validation {
    condition     = var.cpu_node_group.min_size <= var.cpu_node_group.desired_size && var.cpu_node_group.desired_size <= var.cpu_node_group.max_size
    error_message = "cpu_node_group must satisfy min_size <= desired_size <= max_size."
  }
}

variable "gpu_node_group" {
  description = "GPU node group sizing (g5/p4d class); tainted nvidia.com/gpu=true:NoSchedule."
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = number
  })

  validation {
    condition     = var.gpu_node_group.min_size <= var.gpu_node_group.desired_size && var.gpu_node_group.desired_size <= var.gpu_node_group.max_size
    error_message = "gpu_node_group must satisfy min_size <= desired_size <= max_size."
  }

  validation {
    condition     = alltrue([for t in var.gpu_node_group.instance_types : can(regex("^(g5|g6|g6e|p4d|p4de|p5)\\.", t))])
    error_message = "gpu_node_group.instance_types must be NVIDIA GPU instances (g5, g6, g6e, p4d, p4de, p5)."
  }
}
