variable "name_prefix" {
  description = "Prefix of secret names, e.g. clinical-mlops-prod."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the secret."
  type        = string
}

variable "reader_role_arns" {
  description = "The only IAM roles allowed to read the de-identification key (Dagster IRSA role, plus break-glass)."
  type        = list(string)

  validation {
    condition     = length(var.reader_role_arns) > 0
    error_message = "At least one reader role (the Dagster IRSA role) is required."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored (losing the key loses pseudonym linkage)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30
    error_message = "recovery_window_in_days must be between 7 and 30."
  }
}
