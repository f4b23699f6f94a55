output "access_log_bucket_id" {
  description = "Name of the S3 server-access-log bucket (target for bucket logging)."
  value       = aws_s3_bucket.access_logs.id
}

output "access_log_bucket_arn" {
  description = "ARN of the S3 server-access-log bucket."
  value       = aws_s3_bucket.access_logs.arn
}

output "cloudtrail_bucket_arn" {
  description = "ARN of the CloudTrail bucket."
  value       = aws_s3_bucket.cloudtrail.arn
}

output "trail_arn" {
  description = "ARN of the CloudTrail trail."
  value       = aws_cloudtrail.this.arn
}

output "cloudtrail_log_group_name" {
  description = "CloudWatch log group receiving CloudTrail events (for metric filters and alarms)."
  value       = aws_cloudwatch_log_group.cloudtrail.name
}

output "sns_topic_arn" {
  description = "SNS topic notified on each CloudTrail log file delivery."
  value       = aws_sns_topic.cloudtrail.arn
}
