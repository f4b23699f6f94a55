output "role_arns" {
  description = "Map of workload (dagster, ray-train, mlflow, bento-serving, feast) to IAM role ARN."
  value       = { for k, v in aws_iam_role.this : k => v.arn }
}

output "service_account_annotations" {
  description = "Map of service account name to its eks.amazonaws.com/role-arn annotation value."
  value = merge([
    for role, sas in local.roles : { for sa in sas : sa => aws_iam_role.this[role].arn }
  ]...)
}
