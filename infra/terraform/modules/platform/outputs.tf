output "lakehouse_bucket" {
  description = "Lakehouse bucket name (s3://<bucket>/{landing,bronze,silver,gold,quarantine,mlflow-artifacts}/)."
  value       = module.lakehouse.bucket_id
}

output "eks_cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "eks_cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "service_account_role_arns" {
  description = "eks.amazonaws.com/role-arn annotation for each service account in namespace clinical-mlops."
  value       = module.irsa.service_account_annotations
}

output "postgres_endpoint" {
  description = "PostgreSQL host (databases dagster, mlflow, feast_registry; TLS required)."
  value       = module.rds.endpoint
}

output "postgres_master_secret_arn" {
  description = "RDS-managed master credentials (bootstrap job / break-glass only)."
  value       = module.rds.master_user_secret_arn
}

output "redis_primary_endpoint" {
  description = "Feast online store endpoint (rediss://, AUTH token in redis_auth_secret_arn)."
  value       = module.redis.primary_endpoint
}

output "redis_auth_secret_arn" {
  description = "Secrets Manager ARN of the Redis AUTH token."
  value       = module.redis.auth_secret_arn
}

output "deid_key_secret_name" {
  description = "Secret to populate with `aws secretsmanager put-secret-value` before the first pipeline run."
  value       = module.secrets.deid_key_secret_name
}

output "bento_repository_url" {
  description = "ECR repository for Bento images."
  value       = module.ecr["bento-serving"].repository_url
}

output "ecr_repository_urls" {
  description = "ECR repository URL per image (pipeline, ray, mlflow, bento-serving) the manifests pull."
  value       = { for k, m in module.ecr : k => m.repository_url }
}

output "efs_file_system_id" {
  description = "Lakehouse EFS file system (CLINICAL_MLOPS_HOME): PersistentVolume volumeHandle <efs_file_system_id>::<efs_access_point_id>."
  value       = module.efs.file_system_id
}

output "efs_access_point_id" {
  description = "EFS access point (uid/gid 10001) the lakehouse volume mounts through."
  value       = module.efs.access_point_id
}

output "efs_csi_driver_role_arn" {
  description = "IRSA role of the aws-efs-csi-driver add-on (kube-system/efs-csi-controller-sa, efs-csi-node-sa)."
  value       = module.efs.csi_driver_role_arn
}

output "kms_key_arns" {
  description = "Customer-managed KMS keys by purpose."
  value       = module.kms.key_arns
}

output "cloudtrail_arn" {
  description = "CloudTrail trail ARN."
  value       = module.audit.trail_arn
}
