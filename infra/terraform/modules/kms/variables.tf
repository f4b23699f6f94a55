variable "name_prefix" {
  description = "Prefix for key aliases, e.g. clinical-mlops-prod (alias/<name_prefix>/<purpose>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion takes effect (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "cloudtrail_name" {
  description = "Name of the CloudTrail trail that will encrypt with the logs key (the key policy is scoped to this trail's ARN)."
  type        = string
}

variable "key_administrator_arns" {
  description = "IAM role ARNs allowed to administer (not use) the keys, in addition to the account root delegation."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.key_administrator_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "key_administrator_arns must be IAM role ARNs."
  }
}
