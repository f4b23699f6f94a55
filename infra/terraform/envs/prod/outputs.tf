# Pass-through of modules/platform's outputs (descriptions in modules/platform/outputs.tf).

output "lakehouse_bucket" { value = module.platform.lakehouse_bucket }
output "eks_cluster_name" { value = module.platform.eks_cluster_name }
output "eks_cluster_endpoint" { value = module.platform.eks_cluster_endpoint }
output "service_account_role_arns" { value = module.platform.service_account_role_arns }
output "postgres_endpoint" { value = module.platform.postgres_endpoint }
output "postgres_master_secret_arn" { value = module.platform.postgres_master_secret_arn }
output "redis_primary_endpoint" { value = module.platform.redis_primary_endpoint }
output "redis_auth_secret_arn" { value = module.platform.redis_auth_secret_arn }
output "deid_key_secret_name" { value = module.platform.deid_key_secret_name }
output "bento_repository_url" { value = module.platform.bento_repository_url }
output "ecr_repository_urls" { value = module.platform.ecr_repository_urls }
output "efs_file_system_id" { value = module.platform.efs_file_system_id }
output "efs_access_point_id" { value = module.platform.efs_access_point_id }
output "efs_csi_driver_role_arn" { value = module.platform.efs_csi_driver_role_arn }
output "kms_key_arns" { value = module.platform.kms_key_arns }
output "cloudtrail_arn" { value = module.platform.cloudtrail_arn }
