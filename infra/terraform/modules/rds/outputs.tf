output "endpoint" {
  description = "Instance address (host only)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "resource_id" {
  description = "DB resource ID, used in rds-db:connect ARNs for IAM database authentication."
  value       = aws_db_instance.this.resource_id
}

output "master_user_secret_arn" {
  description = "Secrets Manager ARN of the RDS-managed master credentials (break-glass; bootstrap job only)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = aws_security_group.this.id
}
