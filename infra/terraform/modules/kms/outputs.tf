output "key_arns" {
  description = "Map of purpose (lakehouse, rds, secrets, logs, eks, ecr, efs) to KMS key ARN."
  value       = { for k, v in aws_kms_key.this : k => v.arn }
}

output "alias_names" {
  description = "Map of purpose to KMS alias name."
  value       = { for k, v in aws_kms_alias.this : k => v.name }
}
