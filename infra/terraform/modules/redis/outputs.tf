output "primary_endpoint" {
  description = "Primary endpoint address (TLS, port 6379)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint" {
  description = "Reader endpoint address."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "auth_secret_arn" {
  description = "Secrets Manager ARN holding the AUTH token (read by Feast and Dagster via IRSA)."
  value       = aws_secretsmanager_secret.auth.arn
}

output "security_group_id" {
  description = "Security group of the replication group."
  value       = aws_security_group.this.id
}
