variable "name_prefix" {
  description = "Prefix of role names, e.g. clinical-mlops-prod."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider."
  type        = string
}

variable "oidc_issuer_host" {
  description = "OIDC issuer without https:// (e.g. oidc.eks.eu-west-1.amazonaws.com/id/ABC...)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the platform's service accounts."
  type        = string
  default     = "clinical-mlops"
}

variable "lakehouse_bucket_arn" {
  description = "Lakehouse bucket ARN."
  type        = string
}

variable "lakehouse_kms_key_arn" {
  description = "KMS key ARN of the lakehouse bucket."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key ARN encrypting Secrets Manager secrets."
  type        = string
}

variable "deid_key_secret_arn" {
  description = "ARN of the de-identification HMAC key secret (Dagster only)."
  type        = string
}

variable "redis_auth_secret_arn" {
  description = "ARN of the Redis AUTH token secret (Feast, and Dagster for online materialisation)."
  type        = string
}

variable "rds_resource_id" {
  description = "RDS DB resource ID (db-XXXX) for rds-db:connect ARNs."
  type        = string
}

variable "pipeline_prefixes" {
  description = "Lakehouse prefixes Dagster reads and writes."
  type        = list(string)
  default     = ["landing/", "bronze/", "silver/", "gold/", "quarantine/"]
}

variable "gold_prefix" {
  description = "Prefix of training/feature tables (read-only for Ray and Feast)."
  type        = string
  default     = "gold/"
}

variable "mlflow_artifacts_prefix" {
  description = "Prefix of MLflow artifacts."
  type        = string
  default     = "mlflow-artifacts/"
}

variable "dagster_compute_logs_prefix" {
  description = "Prefix of Dagster compute logs (dagster.yaml compute_logs.config.prefix, plus a trailing slash)."
  type        = string
  default     = "dagster/compute-logs/"

  validation {
    condition     = endswith(var.dagster_compute_logs_prefix, "/") && !startswith(var.dagster_compute_logs_prefix, "/")
    error_message = "dagster_compute_logs_prefix must be a relative prefix ending in a slash."
  }
}
