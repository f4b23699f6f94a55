output "deid_key_secret_arn" {
  description = "ARN of the de-identification HMAC key secret."
  value       = aws_secretsmanager_secret.deid_key.arn
}

output "deid_key_secret_name" {
  description = "Name of the de-identification HMAC key secret (for put-secret-value)."
  value       = aws_secretsmanager_secret.deid_key.name
}
