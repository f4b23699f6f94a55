variable "name" {
  description = "Name prefix of the file system and its security group, e.g. clinical-mlops-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC ID."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnet IDs: one mount target per subnet (one per AZ)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "At least one private subnet is needed for a mount target."
  }
}

variable "allowed_security_group_id" {
  description = "Security group of the EKS nodes (the EKS cluster security group): the only source allowed on NFS 2049."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the file system at rest."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name for the aws-efs-csi-driver add-on (pass a value that depends on the node groups)."
  type        = string
}

variable "addon_version" {
  description = "aws-efs-csi-driver add-on version; null lets EKS pick the default for the cluster version."
  type        = string
  default     = null
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider."
  type        = string
}

variable "oidc_issuer_host" {
  description = "OIDC issuer without https:// (prefix of the :sub and :aud condition keys)."
  type        = string
}

variable "posix_uid" {
  description = "POSIX user every client acts as through the access point (the manifests' runAsUser)."
  type        = number
  default     = 10001
}

variable "posix_gid" {
  description = "POSIX group of the access point (the manifests' runAsGroup / fsGroup)."
  type        = number
  default     = 10001
}

variable "root_directory" {
  description = "Directory of the file system exposed by the access point (created owned by posix_uid:posix_gid)."
  type        = string
  default     = "/clinical-mlops"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.root_directory)) && var.root_directory != "/"
    error_message = "root_directory must be an absolute path below /."
  }
}

variable "transition_to_ia" {
  description = "Files not accessed for this long move to EFS Infrequent Access (AFTER_7_DAYS ... AFTER_365_DAYS)."
  type        = string
  default     = "AFTER_30_DAYS"
}
