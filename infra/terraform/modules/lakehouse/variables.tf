variable "bucket_name" {
  description = "Globally unique name of the lakehouse bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key ARN for SSE-KMS (the lakehouse key)."
  type        = string
}

variable "access_log_bucket_id" {
  description = "Name of the separate bucket receiving S3 server access logs."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted (Delta time travel relies on the Delta log, not S3 versions)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 30
    error_message = "Keep noncurrent versions at least 30 days (recovery from accidental deletes)."
  }
}

variable "object_lock_enabled" {
  description = "Enable S3 Object Lock (can only be set at bucket creation). Governance-mode default retention protects landing/ raw exports."
  type        = bool
  default     = false
}

variable "object_lock_retention_days" {
  description = "Default GOVERNANCE retention in days when object_lock_enabled is true."
  type        = number
  default     = 30

  validation {
    condition     = var.object_lock_retention_days >= 1
    error_message = "object_lock_retention_days must be at least 1."
  }
}

variable "data_prefixes" {
  description = "Top-level prefixes of the lakehouse (documented layout; IAM policies are written against them)."
  type        = list(string)
  default     = ["landing/", "bronze/", "silver/", "gold/", "quarantine/", "mlflow-artifacts/"]

  validation {
    condition     = alltrue([for p in var.data_prefixes : can(regex("^[a-z0-9-]+/$", p))])
    error_message = "Each prefix must be lowercase and end with a slash, e.g. gold/."
  }
}

variable "force_destroy" {
  description = "Allow destroying the bucket while it still holds objects (never for PHI)."
  type        = bool
  default     = false
}
