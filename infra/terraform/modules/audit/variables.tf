variable "name" {
  description = "Name prefix (e.g. clinical-mlops-prod); the trail is named <name>-trail."
  type        = string
}

variable "trail_name" {
  description = "CloudTrail trail name (must match the name the logs KMS key policy was scoped to)."
  type        = string
}

variable "access_log_bucket_name" {
  description = "Globally unique name of the S3 server-access-log bucket."
  type        = string
}

variable "cloudtrail_bucket_name" {
  description = "Globally unique name of the CloudTrail bucket."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN for CloudTrail files, the CloudTrail log group and the SNS topic."
  type        = string
}

variable "data_event_bucket_arns" {
  description = "S3 bucket ARNs whose object-level (data) events CloudTrail records (the lakehouse bucket)."
  type        = list(string)

  validation {
    condition     = length(var.data_event_bucket_arns) > 0
    error_message = "At least one bucket (the lakehouse) must have data events enabled."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudTrail CloudWatch log group in days."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "log_retention_days must be at least 365."
  }
}

variable "log_object_expiration_days" {
  description = "Days before CloudTrail files and S3 access logs expire in S3 (HIPAA documentation retention is 6 years = 2190 days)."
  type        = number
  default     = 2190

  validation {
    condition     = var.log_object_expiration_days >= 2190
    error_message = "Audit logs must be kept at least 6 years (2190 days)."
  }
}

variable "force_destroy" {
  description = "Allow destroying log buckets that still hold objects (never in prod)."
  type        = bool
  default     = false
}
