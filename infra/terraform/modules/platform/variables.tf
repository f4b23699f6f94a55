# Environment-level validations (region, account guard, AZ count, role-only cluster admins, public EKS
# API CIDRs) live on the variables of envs/<env>, where each env sets its own rules and defaults.

variable "environment" {
  description = "Environment name (dev, prod): prefix of every resource name (clinical-mlops-<env>) and the ECR path clinical-mlops/<env>/<image>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be a short lowercase name such as dev or prod."
  }
}

variable "availability_zones" {
  description = "Availability zones: one private subnet (and, with NAT, one public subnet) per AZ."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "VPC CIDR."
  type        = string
}

variable "enable_nat_gateway" {
  description = "Give private subnets NAT egress (otherwise AWS is reached through VPC endpoints only)."
  type        = bool
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs and the CloudTrail CloudWatch log group."
  type        = number
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before a scheduled KMS key deletion."
  type        = number
}

variable "key_administrator_arns" {
  description = "IAM roles allowed to administer the KMS keys."
  type        = list(string)
  default     = []
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the Secrets Manager secrets (de-identification key, Redis AUTH token)."
  type        = number
}

variable "deid_key_break_glass_role_arns" {
  description = "Roles that may read the de-identification key besides the Dagster IRSA role."
  type        = list(string)
  default     = []
}

variable "lakehouse_noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions in the lakehouse bucket expire."
  type        = number
}

variable "lakehouse_object_lock_enabled" {
  description = "Enable S3 Object Lock (GOVERNANCE) on the lakehouse bucket."
  type        = bool
}

variable "lakehouse_object_lock_retention_days" {
  description = "Default GOVERNANCE retention in days when lakehouse_object_lock_enabled is true."
  type        = number
  default     = 30
}

variable "cluster_admin_role_arns" {
  description = "IAM roles granted EKS cluster-admin via access entries."
  type        = list(string)
}

variable "eks_endpoint_public_access" {
  description = "Expose the Kubernetes API publicly, restricted to eks_public_access_cidrs."
  type        = bool
  default     = false
}

variable "eks_public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint when eks_endpoint_public_access is true."
  type        = list(string)
  default     = []
}

variable "cpu_instance_types" {
  description = "Instance types of the CPU node group."
  type        = list(string)
}

variable "cpu_nodes" {
  description = "Scaling and root volume size of the CPU node group."
  type = object({
    min_size      = number
    max_size      = number
    desired_size  = number
    disk_size_gib = number
  })
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node group."
  type        = list(string)
}

variable "gpu_max_nodes" {
  description = "Upper bound of the GPU node group (scales from zero)."
  type        = number
}

variable "gpu_disk_size_gib" {
  description = "Root volume size of the GPU nodes in GiB."
  type        = number
}

variable "rds_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "rds_allocated_storage" {
  description = "Initial RDS storage in GiB."
  type        = number
}

variable "rds_max_allocated_storage" {
  description = "Upper bound of RDS storage autoscaling in GiB."
  type        = number
}

variable "rds_multi_az" {
  description = "Multi-AZ RDS deployment."
  type        = bool
}

variable "rds_backup_retention_period" {
  description = "RDS automated backup retention in days."
  type        = number
}

variable "rds_monitoring_interval" {
  description = "RDS Enhanced Monitoring interval in seconds."
  type        = number
  default     = 30
}

variable "rds_performance_insights_retention_period" {
  description = "Performance Insights retention in days (7, or a multiple of 31 up to 731)."
  type        = number
  default     = 7
}

variable "rds_deletion_protection" {
  description = "RDS deletion protection."
  type        = bool
  default     = true
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "redis_num_cache_clusters" {
  description = "Redis nodes (>= 2 enables automatic failover and Multi-AZ)."
  type        = number
}

variable "redis_snapshot_retention_limit" {
  description = "Days of Redis snapshots kept."
  type        = number
}
