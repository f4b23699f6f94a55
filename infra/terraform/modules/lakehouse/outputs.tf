output "bucket_id" {
  description = "Lakehouse bucket name."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "Lakehouse bucket ARN."
  value       = aws_s3_bucket.this.arn
}

output "data_prefixes" {
  description = "Documented top-level prefixes."
  value       = var.data_prefixes
}
