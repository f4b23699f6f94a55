variable "identifier" {
  description = "RDS instance identifier."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.identifier))
    error_message = "identifier must start with a letter and contain only lowercase letters, digits and hyphens."
  }
}

variable "engine_version" {
  description = "PostgreSQL engine version (16.x)."
  type        = string
  default     = "16.8"

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 16.x."
  }
}

variable "instance_class" {
  description = "Instance class, e.g. db.t4g.medium (dev) or db.m6g.large (prod)."
  type        = string
}

variable "allocated_storage" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 50

  validation {
    condition     = var.allocated_storage >= 20
    error_message = "allocated_storage must be at least 20 GiB."
  }
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 200
}

variable "multi_az" {
  description = "Synchronous standby in a second AZ (true in prod)."
  type        = bool
}

variable "backup_retention_period" {
  description = "Automated backup retention in days (7-35; 35 in prod)."
  type        = number

  validation {
    condition     = var.backup_retention_period >= 7 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 7 and 35 days."
  }
}

variable "deletion_protection" {
  description = "Block deletion of the instance."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key ARN for storage, Performance Insights and the managed master secret."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN for the exported PostgreSQL log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of exported PostgreSQL logs in days."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "log_retention_days must be at least 365."
  }
}

variable "vpc_id" {
  description = "VPC ID."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnet IDs (two AZs or more)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An RDS subnet group needs subnets in at least two AZs."
  }
}

variable "allowed_security_groups" {
  description = "Security groups allowed to connect on 5432, keyed by a static name (e.g. { eks_cluster = <sg id> }) so for_each keys are known at plan time."
  type        = map(string)
}

variable "monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 1, 5, 10, 15, 30, 60."
  }
}

variable "performance_insights_retention_period" {
  description = "Performance Insights retention in days (7, or a multiple of 31 up to 731)."
  type        = number
  default     = 7
}

variable "master_username" {
  description = "Master user name (the password is generated and rotated by RDS in Secrets Manager)."
  type        = string
  default     = "clinical_admin"
}
