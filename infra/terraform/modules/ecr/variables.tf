variable "repository_name" {
  description = "ECR repository for BentoML service images."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name))
    error_message = "repository_name must be a valid ECR repository name."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the repository."
  type        = string
}

variable "untagged_expiry_days" {
  description = "Untagged images (failed or superseded pushes) are deleted after this many days."
  type        = number
  default     = 7
}

variable "max_image_count" {
  description = "Most recent tagged images kept (older ones expire); keep enough for rollback and audit."
  type        = number
  default     = 100

  validation {
    condition     = var.max_image_count >= 10
    error_message = "Keep at least 10 images for rollback."
  }
}
