variable "region" {
  description = "AWS region (must be covered by the organisation's BAA)."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "allowed_account_ids" {
  description = "Guard rail: the only AWS account IDs this configuration may be applied to (empty = no guard)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.allowed_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "allowed_account_ids must be 12-digit account IDs."
  }
}

variable "availability_zones" {
  description = "Availability zones (two or more)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "At least two availability zones are required."
  }
}

variable "vpc_cidr" {
  description = "VPC CIDR."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR."
  }
}

variable "enable_nat_gateway" {
  description = "Give private subnets NAT egress (dev defaults to VPC endpoints only)."
  type        = bool
  default     = false
}

variable "cluster_admin_role_arns" {
  description = "IAM roles granted EKS cluster-admin via access entries (e.g. the platform SSO admin role and the CI deploy role)."
  type        = list(string)

  validation {
    condition     = length(var.cluster_admin_role_arns) > 0 && alltrue([for a in var.cluster_admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "cluster_admin_role_arns must list at least one IAM role ARN (no users)."
  }
}

variable "deid_key_break_glass_role_arns" {
  description = "Roles that may read the de-identification key besides the Dagster IRSA role (incident response only; every read is in CloudTrail)."
  type        = list(string)
  default     = []
}

variable "key_administrator_arns" {
  description = "IAM roles allowed to administer the KMS keys."
  type        = list(string)
  default     = []
}

variable "eks_public_access_cidrs" {
  description = "If non-empty, enable the public EKS API endpoint for these CIDRs only (dev convenience; 0.0.0.0/0 is rejected)."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.eks_public_access_cidrs, "0.0.0.0/0")
    error_message = "The EKS API must not be open to 0.0.0.0/0."
  }
}

variable "rds_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "cpu_instance_types" {
  description = "Instance types of the CPU node group."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node group."
  type        = list(string)
  default     = ["g5.xlarge"]
}

variable "gpu_max_nodes" {
  description = "Upper bound of the GPU node group (scales from zero)."
  type        = number
  default     = 1

  validation {
    condition     = var.gpu_max_nodes >= 1 && var.gpu_max_nodes <= 16
    error_message = "gpu_max_nodes must be between 1 and 16."
  }
}
