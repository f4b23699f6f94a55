variable "replication_group_id" {
  description = "ElastiCache replication group ID (Feast online store)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.replication_group_id))
    error_message = "replication_group_id must be 1-40 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "engine_version" {
  description = "Redis OSS engine version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Cache node type, e.g. cache.t4g.small (dev) or cache.r7g.large (prod)."
  type        = string
}

variable "num_cache_clusters" {
  description = "Number of nodes (primary + replicas). Two or more enables automatic failover and Multi-AZ."
  type        = number

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6
    error_message = "num_cache_clusters must be between 1 and 6."
  }
}

variable "snapshot_retention_limit" {
  description = "Days of automatic snapshots to keep."
  type        = number

  validation {
    condition     = var.snapshot_retention_limit >= 1 && var.snapshot_retention_limit <= 35
    error_message = "snapshot_retention_limit must be between 1 and 35."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN for at-rest encryption and the AUTH token secret."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN for the slow-log log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the Redis slow log in days."
  type        = number
  default     = 365
}

variable "vpc_id" {
  description = "VPC ID."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnet IDs."
  type        = list(string)
}

variable "allowed_security_groups" {
  description = "Security groups allowed to connect on 6379, keyed by a static name (e.g. { eks_cluster = <sg id> }) so for_each keys are known at plan time."
  type        = map(string)
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the AUTH token secret."
  type        = number
  default     = 30
}
